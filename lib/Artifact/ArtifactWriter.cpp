//===- ArtifactWriter.cpp - the artifact container ------------------------===//
#include "kiln/Artifact/Artifact.h"

#include "kiln/runtime/ArtifactFormat.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;

llvm::Error kiln::writeArtifact(llvm::StringRef path,
                                llvm::ArrayRef<ArtifactSection> sections) {
  using namespace kiln::artifact;
  auto error = [&](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (path + ": " + msg).str());
  };
  if (sections.size() > kMaxSections)
    return error("too many sections");
  std::vector<std::pair<std::string, std::string>> named;
  for (const ArtifactSection &section : sections) {
    if (section.name.empty() || section.name.size() >= kSectionNameSize)
      return error("bad section name '" + section.name + "'");
    named.emplace_back(section.name, section.data);
  }
  std::string image = packSections(named);

  std::string temp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return error("cannot write: " + ec.message());
    os << image;
    os.close();
    if (os.has_error()) {
      llvm::sys::fs::remove(temp);
      return error("write failed: " + os.error().message());
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return error("cannot rename the temporary file: " + ec.message());
  }
  return llvm::Error::success();
}
