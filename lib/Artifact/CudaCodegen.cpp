//===- CudaCodegen.cpp - cubins for the CUDA target -----------------------===//
//
// The PTX of each kernel comes from MLIR's gpu-module-to-binary (LLVM's
// NVPTX backend); the cubin from the CUDA toolkit's ptxas, run here so that
// the artifact carries machine code for the chosen architecture (the
// driver JIT-compiles the PTX when no cubin matches the GPU).
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Artifact.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;

namespace {
llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}
} // namespace

llvm::Expected<std::string> kiln::assembleCubin(llvm::StringRef ptx,
                                                llvm::StringRef arch,
                                                llvm::StringRef ptxasPath) {
  llvm::SmallString<128> ptxPath, cubinPath, logPath;
  // Each file is removed when this function returns, also when creating a
  // later one fails.
  llvm::SmallVector<std::unique_ptr<llvm::FileRemover>> removers;
  for (auto [path, ext] :
       {std::pair{&ptxPath, "ptx"}, {&cubinPath, "cubin"}, {&logPath, "log"}}) {
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("kiln-kernel", ext, *path))
      return makeError("cannot create a temporary file: " + ec.message());
    removers.push_back(std::make_unique<llvm::FileRemover>(*path));
  }
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(ptxPath, ec);
    if (ec)
      return makeError("cannot write " + ptxPath + ": " + ec.message());
    os << ptx;
  }
  std::string archFlag = ("-arch=" + arch).str();
  llvm::SmallVector<llvm::StringRef> args = {ptxasPath, archFlag, "-O3",
                                             ptxPath,   "-o",     cubinPath};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath, logPath};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(ptxasPath, args, std::nullopt, redirects,
                                     0, 0, &execError);
  if (rc != 0) {
    std::string log;
    if (auto buf = llvm::MemoryBuffer::getFile(logPath))
      log = (*buf)->getBuffer().str();
    return makeError(llvm::formatv(
        "{0} failed ({1}): {2}", ptxasPath,
        execError.empty() ? "exit " + std::to_string(rc) : execError, log));
  }
  auto cubin = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false);
  if (!cubin)
    return makeError("ptxas wrote no " + cubinPath);
  return (*cubin)->getBuffer().str();
}
