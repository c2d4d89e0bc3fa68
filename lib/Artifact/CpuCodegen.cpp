//===- CpuCodegen.cpp - LLVM IR to a shared object ------------------------===//
#include "kiln/Artifact/Artifact.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace kiln;

static llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}

llvm::Expected<CpuTarget> kiln::resolveCpuTarget(llvm::StringRef cpu) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  CpuTarget target;
  target.triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(target.triple), error);
  if (!llvmTarget)
    return makeError("target '" + target.triple + "': " + error);
  if (cpu == "native") {
    target.cpu = llvm::sys::getHostCPUName().str();
    std::vector<std::string> features;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features.push_back((feature.second ? "+" : "-") + feature.first().str());
    llvm::sort(features);
    target.features = llvm::join(features, ",");
  } else {
    target.cpu = cpu == "generic" ? "x86-64" : cpu.str();
  }
  std::unique_ptr<llvm::MCSubtargetInfo> sti(llvmTarget->createMCSubtargetInfo(
      llvm::Triple(target.triple), target.cpu, target.features));
  if (!sti || !sti->isCPUStringValid(target.cpu))
    return makeError("--cpu: unknown CPU '" + target.cpu + "' for " +
                     target.triple);
  return target;
}

static llvm::Expected<std::string> findLinker(llvm::StringRef requested) {
  if (!requested.empty()) {
    if (llvm::sys::fs::can_execute(requested))
      return requested.str();
    llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName(requested);
    if (found)
      return *found;
    return makeError("--linker: cannot find or execute '" + requested + "'");
  }
  for (const char *name : {"ld.lld-22", "ld.lld", "ld"})
    if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName(name))
      return *found;
  return makeError("no linker found (looked for ld.lld-22, ld.lld and ld on "
                   "PATH): install binutils or lld, or pass --linker");
}

/// Defines `__truncsfbf2` (f32 to bf16, round to nearest even, NaN kept
/// quiet) in `module`, hidden. The x86 backend calls it where a bf16 value
/// it cannot keep natively (a select, a phi) is promoted to f32, on CPUs
/// without AVX512-BF16; Debian 12's libgcc (GCC 12) does not have it, and
/// the kernels must not depend on compiler-rt being installed.
static void defineBf16TruncationBuiltin(llvm::Module &module) {
  constexpr llvm::StringLiteral name = "__truncsfbf2";
  if (llvm::Function *existing = module.getFunction(name))
    if (!existing->isDeclaration())
      return;
  llvm::LLVMContext &ctx = module.getContext();
  auto *type = llvm::FunctionType::get(llvm::Type::getBFloatTy(ctx),
                                       {llvm::Type::getFloatTy(ctx)}, false);
  llvm::Function *fn = llvm::cast<llvm::Function>(
      module.getOrInsertFunction(name, type).getCallee());
  fn->setLinkage(llvm::GlobalValue::ExternalLinkage);
  fn->setVisibility(llvm::GlobalValue::HiddenVisibility);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", fn));
  llvm::Value *x = fn->getArg(0);
  llvm::Value *bits = b.CreateBitCast(x, b.getInt32Ty());
  llvm::Value *lsb = b.CreateAnd(b.CreateLShr(bits, 16), 1);
  llvm::Value *rounded =
      b.CreateAdd(bits, b.CreateAdd(lsb, b.getInt32(0x7FFF)));
  llvm::Value *high = b.CreateTrunc(b.CreateLShr(rounded, 16), b.getInt16Ty());
  llvm::Value *isNan = b.CreateFCmpUNO(x, x);
  llvm::Value *result = b.CreateSelect(isNan, b.getInt16(0x7FC0), high);
  b.CreateRet(b.CreateBitCast(result, llvm::Type::getBFloatTy(ctx)));
}

llvm::Expected<std::string>
kiln::compileCpuSharedObject(llvm::Module &module, const CpuTarget &target,
                             unsigned optLevel, llvm::StringRef linker) {
  std::string error;
  llvm::Triple triple(target.triple);
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return makeError("target '" + target.triple + "': " + error);
  llvm::CodeGenOptLevel cgLevel = optLevel == 0   ? llvm::CodeGenOptLevel::None
                                  : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                  : optLevel == 2
                                      ? llvm::CodeGenOptLevel::Default
                                      : llvm::CodeGenOptLevel::Aggressive;
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, options, llvm::Reloc::PIC_,
      std::nullopt, cgLevel));
  if (!machine)
    return makeError("cannot create a target machine for " + target.triple);
  module.setTargetTriple(triple);
  module.setDataLayout(machine->createDataLayout());
  // Functions carry no target attributes of their own: give them the
  // machine's, so the IR optimizer (vectorizer cost model) sees them too.
  for (llvm::Function &fn : module) {
    if (fn.isDeclaration())
      continue;
    fn.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      fn.addFnAttr("target-features", target.features);
  }
  if (llvm::verifyModule(module, &llvm::errs()))
    return makeError("the LLVM IR does not verify");

  if (optLevel > 0) {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder builder(machine.get());
    builder.registerModuleAnalyses(mam);
    builder.registerCGSCCAnalyses(cgam);
    builder.registerFunctionAnalyses(fam);
    builder.registerLoopAnalyses(lam);
    builder.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::OptimizationLevel level = optLevel == 1 ? llvm::OptimizationLevel::O1
                                    : optLevel == 2
                                        ? llvm::OptimizationLevel::O2
                                        : llvm::OptimizationLevel::O3;
    builder.buildPerModuleDefaultPipeline(level).run(module, mam);
  }

  // After the optimizer, which would drop an unreferenced definition: the
  // calls appear only during instruction selection.
  defineBf16TruncationBuiltin(module);

  llvm::SmallString<0> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return makeError("the target cannot emit object files");
    codegen.run(module);
  }

  llvm::Expected<std::string> linkerPath = findLinker(linker);
  if (!linkerPath)
    return linkerPath.takeError();
  llvm::SmallString<128> objPath, soPath, logPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("kiln-kernels", "o", objPath))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeObj(objPath);
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("kiln-kernels", "so", soPath))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeSo(soPath);
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("kiln-link", "log", logPath))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeLog(logPath);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objPath, ec);
    if (ec)
      return makeError(objPath + ": " + ec.message());
    os << object;
  }
  // Undefined symbols (malloc, free, libm) resolve against the process
  // that loads the kernels.
  llvm::SmallVector<llvm::StringRef> args = {
      *linkerPath, "-shared",     "-o",          soPath,
      "-z",        "noexecstack", "--as-needed", objPath};
  std::string execError;
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath.str(),
                                                logPath.str()};
  int rc = llvm::sys::ExecuteAndWait(*linkerPath, args, std::nullopt, redirects,
                                     0, 0, &execError);
  if (rc != 0) {
    std::string log;
    if (auto buf = llvm::MemoryBuffer::getFile(logPath))
      log = (*buf)->getBuffer().str();
    return makeError(llvm::formatv("linking the kernels with {0} failed "
                                   "(exit {1}){2}{3}",
                                   *linkerPath, rc,
                                   execError.empty() ? "" : ": " + execError,
                                   log.empty() ? "" : ":\n" + log)
                         .str());
  }
  auto so = llvm::MemoryBuffer::getFile(soPath, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false);
  if (!so)
    return makeError(soPath + ": " + so.getError().message());
  return (*so)->getBuffer().str();
}
