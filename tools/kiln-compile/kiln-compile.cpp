//===- kiln-compile.cpp - compile a decoder model ahead of time ----------===//
//
//   kiln-compile MODEL_DIR -o model.kiln [--target cpu]
//   kiln-compile MODEL_DIR --target cuda --arch sm_90 --emit gpu|plan
//
// reads MODEL_DIR/config.json (no weights needed), builds the llm graph,
// runs the CPU pipeline stage by stage with progress on stderr, generates
// native code and writes a versioned artifact (see docs/artifact.md).
// `--builtin NAME` replaces MODEL_DIR with a built-in config, and `--emit`
// stops at an intermediate form for study. The CUDA target stops at the
// kernels (PTX) and the launch plans for now: its artifact section and the
// runtime's CUDA backend are the next steps.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Artifact.h"
#include "kiln/Artifact/LaunchPlan.h"
#include "kiln/Model/HuggingFaceConfig.h"
#include "kiln/Model/ModelBuilder.h"
#include "kiln/Pipelines/Pipelines.h"

#include "kiln/runtime/ArtifactFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
using namespace kiln;

namespace cl = llvm::cl;

static cl::OptionCategory kCategory("kiln-compile options");
static cl::opt<std::string>
    modelDirOpt(cl::Positional,
                cl::desc("<model dir> (Hugging Face layout: config.json)"),
                cl::init(""), cl::cat(kCategory));
static cl::opt<std::string>
    builtinModel("builtin",
                 cl::desc("Compile a built-in model config instead of a "
                          "model directory (tiny, llama3-8b)"),
                 cl::init(""), cl::cat(kCategory));
static cl::opt<std::string> targetOpt("target",
                                      cl::desc("Target: cpu (default) or "
                                               "cuda"),
                                      cl::init("cpu"), cl::cat(kCategory));
static cl::opt<std::string>
    archOpt("arch",
            cl::desc("cuda target: GPU architecture, sm_80, sm_86, sm_89, "
                     "sm_90 (default) or sm_90a"),
            cl::init("sm_90"), cl::cat(kCategory));
static cl::opt<bool> gpuTilingOnCpuOpt(
    "gpu-tiling-on-cpu",
    cl::desc("Test aid: tile with the GPU's blocks and threads "
             "(kiln-cuda-tile) but run them as CPU loops, so that the CPU "
             "runtime checks the GPU tiling numerically without a GPU"),
    cl::init(false), cl::cat(kCategory));
static cl::opt<int64_t> gpuPipelineStagesOpt(
    "gpu-pipeline-stages",
    cl::desc("cuda target and --gpu-tiling-on-cpu: software-pipeline stages "
             "of the prefill GEMMs' K loops (shared-memory buffers per tile; "
             "1 = off; default 2)"),
    cl::init(2), cl::cat(kCategory));
static cl::opt<bool> gpuCpAsyncOpt(
    "gpu-cp-async",
    cl::desc("cuda target: copy the GEMMs' shared tiles with cp.async "
             "(default true; false: ordinary loads and stores)"),
    cl::init(true), cl::cat(kCategory));
static cl::opt<bool> gpuSwizzleOpt(
    "gpu-swizzle",
    cl::desc("cuda target: XOR-swizzle shared-memory tiles against bank "
             "conflicts (default true; false for comparisons)"),
    cl::init(true), cl::cat(kCategory));
static cl::opt<bool>
    gpuMmaOpt("gpu-mma",
              cl::desc("cuda target: bf16/f16 prefill GEMMs on tensor cores "
                       "(mma.sync; default true)"),
              cl::init(true), cl::cat(kCategory));
static cl::opt<std::string>
    cudaPathOpt("cuda-path",
                cl::desc("cuda target: the CUDA toolkit (libdevice, ptxas "
                         "for cubins; default /usr/local/cuda)"),
                cl::init("/usr/local/cuda"), cl::cat(kCategory));
static cl::opt<std::string>
    cpuOpt("cpu",
           cl::desc("CPU to generate code for: native (default), generic, "
                    "or an LLVM CPU name"),
           cl::init("native"), cl::cat(kCategory));
static cl::opt<unsigned> optLevelOpt("O",
                                     cl::desc("LLVM optimization level "
                                              "0-3 (default 3)"),
                                     cl::Prefix, cl::init(3),
                                     cl::cat(kCategory));
static cl::opt<std::string>
    linkerOpt("linker",
              cl::desc("Linker for the CPU kernels (default: ld.lld or ld "
                       "on PATH)"),
              cl::init(""), cl::cat(kCategory));
static cl::opt<std::string>
    dtypeOpt("dtype",
             cl::desc("Weight and activation type: f32, f16 or bf16 "
                      "(default: f32 for the cpu target)"),
             cl::init(""), cl::cat(kCategory));
static cl::opt<int64_t>
    layersOpt("num-layers", cl::desc("Override the number of layers (0: keep)"),
              cl::init(0), cl::cat(kCategory));
enum class Emit {
  LLM,
  Linalg,
  Tiled,
  Bufferized,
  LLVMDialect,
  LLVMIR,
  Artifact,
  Gpu,
  Plan
};
static cl::opt<Emit> emitOpt(
    "emit", cl::desc("What to write to the output"),
    cl::values(clEnumValN(Emit::LLM, "llm", "the llm graph"),
               clEnumValN(Emit::Linalg, "linalg", "linalg on tensors"),
               clEnumValN(Emit::Tiled, "tiled", "tiled and vectorized"),
               clEnumValN(Emit::Bufferized, "bufferized", "on memrefs"),
               clEnumValN(Emit::LLVMDialect, "llvm", "the LLVM dialect"),
               clEnumValN(Emit::LLVMIR, "llvmir", "LLVM IR"),
               clEnumValN(Emit::Artifact, "artifact",
                          "the artifact for kiln-run (default)"),
               clEnumValN(Emit::Gpu, "gpu",
                          "cuda: host functions and PTX kernels"),
               clEnumValN(Emit::Plan, "plan",
                          "cuda: the entries' launch plans (JSON)")),
    cl::init(Emit::Artifact), cl::cat(kCategory));
static cl::opt<std::string> outputOpt("o",
                                      cl::desc("Output file ('-' for "
                                               "stdout; none: summary "
                                               "only)"),
                                      cl::value_desc("file"), cl::init(""),
                                      cl::cat(kCategory));
static cl::opt<bool> quietOpt("quiet", cl::desc("No progress on stderr"),
                              cl::init(false), cl::cat(kCategory));

namespace {
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

size_t countOps(Operation *op) {
  size_t n = 0;
  op->walk([&](Operation *) { ++n; });
  return n;
}

int fail(const llvm::Twine &msg) {
  llvm::errs() << "kiln-compile: error: " << msg << "\n";
  return 1;
}

/// The CUDA artifact: the manifest (with the target's kernel modules and
/// the entries' launch plans), each module's PTX and, when the toolkit's
/// ptxas is there, its cubin for the chosen architecture.
template <typename Progress, typename Report>
llvm::Error writeCudaArtifact(ModuleOp module, const CudaTargetOptions &target,
                              llvm::json::Object manifest,
                              llvm::json::Array plans, Progress &progress,
                              Report &reportStage) {
  Clock::time_point start = Clock::now();
  std::string ptxas = target.cudaPath + "/bin/ptxas";
  bool haveCubins = llvm::sys::fs::can_execute(ptxas);
  if (!haveCubins)
    progress("  no " + ptxas + ": PTX only (the driver compiles it at load)");
  std::vector<ArtifactSection> sections;
  llvm::json::Array modules;
  size_t cubinBytes = 0;
  for (gpu::BinaryOp binary : module.getOps<gpu::BinaryOp>()) {
    auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
    std::string name = binary.getSymName().str();
    llvm::json::Object entry{{"name", name}, {"ptx", "ptx:" + name}};
    sections.push_back({"ptx:" + name, object.getObject().str()});
    if (haveCubins) {
      llvm::Expected<std::string> cubin =
          assembleCubin(object.getObject().getValue(), target.chip, ptxas);
      if (!cubin)
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "kernel module '" + name + "': " +
                                           llvm::toString(cubin.takeError()));
      cubinBytes += cubin->size();
      entry["cubin"] = "cubin:" + name;
      sections.push_back({"cubin:" + name, std::move(*cubin)});
    }
    modules.push_back(std::move(entry));
  }
  if (modules.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the CUDA target produced no kernels");
  reportStage({haveCubins ? "ptxas (cubins)" : "PTX only", secondsSince(start),
               cubinBytes, "bytes of cubins"});
  std::string firstSection = sections.front().name;
  manifest["target"] =
      llvm::json::Object{{"kind", "cuda"},
                         {"section", firstSection},
                         {"arch", target.chip.getValue()},
                         {"ptx_isa", target.features.getValue()},
                         {"modules", std::move(modules)}};
  manifest["launch_plans"] = std::move(plans);
  std::string manifestText;
  llvm::raw_string_ostream ms(manifestText);
  ms << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest)));
  sections.insert(sections.begin(),
                  ArtifactSection{artifact::kManifestSection, manifestText});
  start = Clock::now();
  if (llvm::Error e = writeArtifact(outputOpt, sections))
    return e;
  uint64_t size = 0;
  llvm::sys::fs::file_size(outputOpt, size);
  reportStage({"write artifact", secondsSince(start), size, "bytes"});
  return llvm::Error::success();
}

llvm::Expected<ModelConfig> loadConfig() {
  if (!modelDirOpt.empty() && !builtinModel.empty())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "give either a model directory or --builtin, not both");
  if (!modelDirOpt.empty()) {
    if (!llvm::sys::fs::is_directory(modelDirOpt))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "'" + modelDirOpt +
              "' is not a directory (expected a model "
              "directory with config.json)");
    auto warn = [](const llvm::Twine &msg) {
      llvm::errs() << "kiln-compile: warning: " << msg << "\n";
    };
    return loadHuggingFaceConfig(modelDirOpt, warn);
  }
  return ModelConfig::builtin(builtinModel.empty() ? "tiny"
                                                   : builtinModel.getValue());
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerKilnPassesAndPipelines();
  cl::HideUnrelatedOptions(kCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Kiln: compile a decoder model ahead of time\n\n"
      "  kiln-compile MODEL_DIR -o model.kiln [--target cpu]\n");

  if (targetOpt != "cpu" && targetOpt != "cuda")
    return fail("--target: '" + targetOpt +
                "' is not supported (supported: cpu, cuda)");
  bool cuda = targetOpt == "cuda";
  if (cuda && gpuTilingOnCpuOpt)
    return fail("--gpu-tiling-on-cpu is for --target cpu");
  if (!cuda && emitOpt >= Emit::Gpu)
    return fail("--emit gpu and plan are for --target cuda");
  if (cuda && emitOpt != Emit::LLM && emitOpt != Emit::Linalg &&
      emitOpt != Emit::Gpu && emitOpt != Emit::Plan &&
      emitOpt != Emit::Artifact)
    return fail("--target cuda: --emit llm, linalg, gpu, plan or artifact");
  std::optional<CudaTargetOptions> cudaTarget;
  if (cuda) {
    static const std::pair<const char *, const char *> kArchs[] = {
        {"sm_80", "+ptx75"},
        {"sm_86", "+ptx75"},
        {"sm_89", "+ptx78"},
        {"sm_90", "+ptx80"},
        {"sm_90a", "+ptx80"}};
    for (auto [arch, features] : kArchs)
      if (archOpt == arch) {
        cudaTarget.emplace();
        cudaTarget->chip = arch;
        cudaTarget->features = features;
        cudaTarget->cudaPath = cudaPathOpt;
        cudaTarget->pipelineStages = gpuPipelineStagesOpt;
        cudaTarget->cpAsync = gpuCpAsyncOpt;
        cudaTarget->mma = gpuMmaOpt;
        cudaTarget->swizzle = gpuSwizzleOpt;
      }
    if (!cudaTarget)
      return fail("--arch: '" + archOpt +
                  "' is not supported (sm_80, sm_86, sm_89, sm_90, sm_90a)");
  } else if (archOpt.getNumOccurrences()) {
    return fail("--arch is for --target cuda");
  }
  if (optLevelOpt > 3)
    return fail("-O: expected 0 to 3");
  if (gpuPipelineStagesOpt < 1 || gpuPipelineStagesOpt > 8)
    return fail("--gpu-pipeline-stages: expected 1 to 8, got " +
                llvm::Twine(gpuPipelineStagesOpt.getValue()));
  llvm::Expected<ModelConfig> cfgOr = loadConfig();
  if (!cfgOr)
    return fail(llvm::toString(cfgOr.takeError()));
  ModelConfig cfg = *cfgOr;
  // The CPU computes in f32 unless asked otherwise: bf16 arithmetic is
  // emulated there. The weights are converted at load time.
  cfg.dtype = DType::F32;
  if (!dtypeOpt.empty()) {
    std::optional<DType> dt = parseDType(dtypeOpt);
    if (!dt)
      return fail("--dtype: expected f32, f16 or bf16, got '" + dtypeOpt + "'");
    cfg.dtype = *dt;
  } else if (!builtinModel.empty()) {
    cfg.dtype = ModelConfig::builtin(builtinModel)->dtype;
  }
  if (layersOpt < 0)
    return fail("--num-layers must be >= 0");
  if (layersOpt > 0)
    cfg.numLayers = layersOpt;
  if (emitOpt == Emit::Artifact && (outputOpt.empty() || outputOpt == "-"))
    return fail("an artifact needs an output file: -o FILE");

  std::optional<CpuTarget> target;
  if (emitOpt == Emit::Artifact && !cuda) {
    llvm::Expected<CpuTarget> targetOr = resolveCpuTarget(cpuOpt);
    if (!targetOr)
      return fail(llvm::toString(targetOr.takeError()));
    target = *targetOr;
  }

  DialectRegistry registry;
  registerKilnDialects(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.disableMultithreading();

  auto progress = [&](const llvm::Twine &msg) {
    if (!quietOpt)
      llvm::errs() << "[kiln-compile] " << msg << "\n";
  };
  Clock::time_point total = Clock::now();
  progress(llvm::formatv("model '{0}': {1} layers, hidden {2}, {3}/{4} heads, "
                         "{5:F1}M parameters, {6}",
                         cfg.name, cfg.numLayers, cfg.hiddenSize, cfg.numHeads,
                         cfg.numKvHeads, cfg.numParameters() / 1e6,
                         dtypeName(cfg.dtype)));

  Clock::time_point start = Clock::now();
  auto moduleOr = buildDecoderModule(context, cfg);
  if (!moduleOr)
    return fail(llvm::toString(moduleOr.takeError()));
  OwningOpRef<ModuleOp> module = std::move(*moduleOr);
  size_t numWeights = 0;
  if (auto prefill = module->lookupSymbol<func::FuncOp>(kPrefillFuncName))
    for (unsigned i = 0, e = prefill.getNumArguments(); i < e; ++i)
      if (auto binding =
              prefill.getArgAttrOfType<StringAttr>(i, kBindingAttrName))
        numWeights += isWeightBinding(binding.getValue());
  std::optional<llvm::json::Object> manifest;
  if (emitOpt == Emit::Artifact) {
    // The CUDA target's description is complete once its kernels exist.
    llvm::Expected<llvm::json::Object> manifestOr = buildManifest(
        *module, cfg, cuda ? llvm::json::Object{} : cpuTargetManifest(*target));
    if (!manifestOr)
      return fail(llvm::toString(manifestOr.takeError()));
    manifest = std::move(*manifestOr);
  }
  struct StageReport {
    std::string name;
    double seconds;
    size_t ops;
    const char *unit;
  };
  SmallVector<StageReport> report = {
      {"build llm graph", secondsSince(start), countOps(*module), "ops"}};
  auto reportStage = [&](StageReport r) {
    progress(llvm::formatv("  {0,-17} {1,6:F2}s  {2} {3}", r.name, r.seconds,
                           r.ops, r.unit));
    report.push_back(std::move(r));
  };
  progress(llvm::formatv("  build llm graph   {0,6:F2}s  {1} ops",
                         report.back().seconds, report.back().ops));

  struct Stage {
    const char *name;
    Emit after;
    void (*build)(OpPassManager &);
  } stages[] = {
      {"lower to linalg", Emit::Linalg, buildCpuLowerToLinalgPipeline},
      {"tile and fuse", Emit::Tiled, buildCpuTilePipeline},
      {"bufferize", Emit::Bufferized, buildCpuBufferizePipeline},
      {"lower to LLVM", Emit::LLVMDialect, buildCpuToLLVMPipeline}};
  // The CUDA target runs the first two stages here, the rest below.
  bool cudaKernels =
      cuda && (emitOpt == Emit::Artifact || emitOpt >= Emit::Gpu);
  Emit stopAfter = cudaKernels ? Emit::Tiled : emitOpt;
  if (cuda || gpuTilingOnCpuOpt) {
    stages[0] = {"lower to linalg", Emit::Linalg,
                 buildCudaLowerToLinalgPipeline};
    stages[1] = {"tile for the GPU", Emit::Tiled, buildCudaTilePipeline};
  }
  if (gpuTilingOnCpuOpt)
    stages[2] = {"bufferize", Emit::Bufferized, [](OpPassManager &pm) {
                   buildGpuTilingOnCpuBufferizePipeline(pm,
                                                        gpuPipelineStagesOpt);
                 }};
  for (const Stage &stage : stages) {
    if (stopAfter < stage.after || (cuda && &stage - stages >= 2))
      break;
    start = Clock::now();
    PassManager pm(&context);
    stage.build(pm);
    if (failed(pm.run(*module)))
      return fail(llvm::Twine("the '") + stage.name + "' stage failed");
    reportStage({stage.name, secondsSince(start), countOps(*module), "ops"});
  }

  std::string text;
  llvm::raw_string_ostream os(text);
  if (cudaKernels) {
    // Kernels to PTX, then the layer functions inlined into the entries so
    // that each entry's host side is one block of sizes and launches.
    start = Clock::now();
    PassManager pm(&context);
    buildCudaToPtxPipeline(pm, *cudaTarget);
    if (failed(pm.run(*module)))
      return fail("the 'kernels to PTX' stage failed");
    size_t kernels = 0;
    module->walk([&](gpu::BinaryOp) { ++kernels; });
    reportStage({"kernels to PTX", secondsSince(start), kernels, "kernels"});
    start = Clock::now();
    PassManager inliner(&context);
    if (failed(parsePassPipeline("inline,canonicalize,cse", inliner)) ||
        failed(inliner.run(*module)))
      return fail("inlining the host functions failed");
    if (emitOpt == Emit::Gpu) {
      module->print(os);
    } else {
      llvm::json::Array plans;
      for (llvm::StringRef name : {kPrefillFuncName, kDecodeStepFuncName}) {
        auto entry = module->lookupSymbol<func::FuncOp>(name);
        if (!entry)
          return fail("no entry '" + name + "' after lowering");
        llvm::Expected<llvm::json::Object> plan = extractLaunchPlan(entry);
        if (!plan)
          return fail(llvm::toString(plan.takeError()));
        plans.push_back(std::move(*plan));
      }
      reportStage({"launch plans", secondsSince(start), 2, "entries"});
      if (emitOpt == Emit::Plan) {
        os << llvm::formatv("{0:2}", llvm::json::Value(std::move(plans)))
           << "\n";
      } else if (llvm::Error err = writeCudaArtifact(
                     *module, *cudaTarget, std::move(*manifest),
                     std::move(plans), progress, reportStage)) {
        return fail(llvm::toString(std::move(err)));
      } else {
        uint64_t size = 0;
        llvm::sys::fs::file_size(outputOpt, size);
        text.resize(size);
      }
    }
  } else if (emitOpt >= Emit::LLVMIR) {
    start = Clock::now();
    llvm::LLVMContext llvmContext;
    std::unique_ptr<llvm::Module> llvmModule =
        translateModuleToLLVMIR(*module, llvmContext);
    if (!llvmModule)
      return fail("translation to LLVM IR failed");
    reportStage({"translate", secondsSince(start),
                 llvmModule->getFunctionList().size(), "LLVM functions"});
    if (emitOpt == Emit::LLVMIR) {
      llvmModule->print(os, nullptr);
    } else {
      start = Clock::now();
      progress(llvm::formatv("  generating code for {0} ({1}), -O{2} ...",
                             target->cpu, target->triple, optLevelOpt));
      llvm::Expected<std::string> so =
          compileCpuSharedObject(*llvmModule, *target, optLevelOpt, linkerOpt);
      if (!so)
        return fail(llvm::toString(so.takeError()));
      reportStage({"codegen + link", secondsSince(start), so->size(),
                   "bytes of kernels"});
      start = Clock::now();
      std::string manifestText;
      llvm::raw_string_ostream ms(manifestText);
      ms << llvm::formatv("{0:2}", llvm::json::Value(std::move(*manifest)));
      std::vector<ArtifactSection> sections = {
          {artifact::kManifestSection, manifestText},
          {artifact::kCpuSharedObjectSection, std::move(*so)}};
      if (llvm::Error e = writeArtifact(outputOpt, sections))
        return fail(llvm::toString(std::move(e)));
      uint64_t size = 0;
      llvm::sys::fs::file_size(outputOpt, size);
      text.clear();
      text.resize(size);
      reportStage({"write artifact", secondsSince(start), size, "bytes"});
    }
  } else {
    module->print(os);
  }

  if (!outputOpt.empty() && emitOpt != Emit::Artifact) {
    std::string err;
    auto out = openOutputFile(outputOpt, &err);
    if (!out)
      return fail("cannot write '" + outputOpt + "': " + err);
    out->os() << text;
    out->keep();
  }

  // The summary goes to stderr when the IR itself goes to stdout.
  llvm::raw_ostream &summary = outputOpt == "-" ? llvm::errs() : llvm::outs();
  summary << llvm::formatv(
      "kiln-compile: {0} ({1}, {2} layers) -> {3}: {4} bytes in {5:F2}s\n",
      cfg.name, dtypeName(cfg.dtype), cfg.numLayers,
      outputOpt.empty() ? std::string("(summary only)") : outputOpt.getValue(),
      text.size(), secondsSince(total));
  if (quietOpt)
    return 0;
  summary << llvm::formatv(
      "  model       hidden {0}, intermediate {1}, heads {2}/{3} x {4}, vocab "
      "{5}, {6:F1}M parameters{7}{8}\n",
      cfg.hiddenSize, cfg.intermediateSize, cfg.numHeads, cfg.numKvHeads,
      cfg.headDim, cfg.vocabSize, cfg.numParameters() / 1e6,
      cfg.tieWordEmbeddings ? ", tied embeddings" : "",
      cfg.slidingWindow ? ", sliding window" : "");
  summary << llvm::formatv(
      "  entries     {0} and {1}: ids, positions, kv_len, {2} weights, {3} KV "
      "caches; return f32 logits [batch, {4}]\n",
      kPrefillFuncName, kDecodeStepFuncName, numWeights, 2 * cfg.numLayers,
      cfg.vocabSize);
  if (target)
    summary << llvm::formatv("  target      cpu {0} ({1})\n", target->cpu,
                             target->triple);
  if (cudaTarget)
    summary << llvm::formatv("  target      cuda {0} (PTX {1})\n",
                             cudaTarget->chip.getValue(),
                             cudaTarget->features.getValue());
  for (const StageReport &r : report)
    summary << llvm::formatv("  {0,-17} {1,7:F3}s {2,8} {3}\n", r.name,
                             r.seconds, r.ops, r.unit);
  return 0;
}
