//===- Pipelines.cpp - Kiln's named pass pipelines ------------------------===//
//
// Stages are written as textual pipelines of registered passes: the text is
// what a user would pass to kiln-opt to reproduce one stage by hand.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipelines/Pipelines.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace {
void addTextualPipeline(OpPassManager &pm, const llvm::Twine &twine) {
  std::string text = twine.str();
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(text, pm, os)))
    llvm::report_fatal_error(llvm::Twine("kiln: bad built-in pipeline '") +
                             text + "': " + errors);
}
} // namespace

void kiln::buildCpuLowerToLinalgPipeline(OpPassManager &pm) {
  addTextualPipeline(pm, "kiln-convert-llm-to-linalg,canonicalize,cse");
}

void kiln::buildCudaLowerToLinalgPipeline(OpPassManager &pm) {
  // Attention first: the GPU has its own (flash-attention) kernel for it.
  addTextualPipeline(
      pm, "kiln-flash-attention,kiln-convert-llm-to-linalg,canonicalize,cse");
}

void kiln::buildCpuTilePipeline(OpPassManager &pm) {
  addTextualPipeline(pm,
                     "kiln-assign-lowering-config{target=cpu},"
                     "kiln-tile-and-fuse{level=distribute},canonicalize,cse,"
                     "kiln-split-invariant-compute,canonicalize,cse,"
                     "kiln-tile-and-fuse{level=vector},canonicalize,cse,"
                     "kiln-vectorize,canonicalize,cse,"
                     "loop-invariant-subset-hoisting,canonicalize");
}

void kiln::buildCudaTilePipeline(OpPassManager &pm) {
  addTextualPipeline(pm, "kiln-assign-lowering-config{target=cuda},"
                         "kiln-tile-and-fuse{level=distribute},canonicalize,"
                         "cse,kiln-gpu-promote-operands,canonicalize,cse,"
                         "kiln-tile-and-fuse{level=thread},canonicalize,"
                         "cse");
}

void kiln::buildCudaToPtxPipeline(OpPassManager &pm,
                                  const CudaTargetOptions &options) {
  // Kernels compute in linalg loops for now; the host side keeps its
  // allocations and launches (the runtime's CUDA backend will run them).
  std::string pipeline = llvm::formatv("kiln-gpu-pipeline{{stages={0} "
                                       "async={1}}",
                                       options.pipelineStages.getValue(),
                                       options.cpAsync ? "true" : "false");
  addTextualPipeline(pm, "kiln-bufferize,canonicalize,cse," + pipeline +
                             ",canonicalize,cse,"
                             "kiln-gpu-warp-reduce,kiln-gpu-launch," +
                             (options.cpAsync ? "kiln-gpu-async-copy," : "") +
                             (options.mma ? "kiln-gpu-mma," : "") +
                             "canonicalize,cse,"
                             "gpu-launch-sink-index-computations,"
                             "gpu-kernel-outlining,kiln-gpu-kernel-attributes,"
                             "convert-linalg-to-loops," +
                             (options.swizzle ? "kiln-gpu-swizzle," : "") +
                             "lower-affine,canonicalize");
  addTextualPipeline(pm, "nvvm-attach-target{chip=" + options.chip +
                             " features=" + options.features + " O=3}");
  // Math functions come from the toolkit's libdevice, found through
  // `cuda-path` rather than the environment (CUDA_HOME), so that the PTX
  // does not depend on how the compiler was started.
  addTextualPipeline(pm, "gpu.module(expand-strided-metadata,lower-affine,"
                         "convert-scf-to-cf,convert-nvgpu-to-nvvm,"
                         "convert-vector-to-llvm,"
                         "convert-gpu-to-nvvm,canonicalize,"
                         "cse,reconcile-unrealized-casts),"
                         "gpu-module-to-binary{format=isa toolkit=" +
                             options.cudaPath + "}");
}

void kiln::buildCpuBufferizePipeline(OpPassManager &pm) {
  // Function boundaries are bufferized too, so that the KV cache arguments
  // are written in place and the layer function returns no copy of them.
  addTextualPipeline(pm, "kiln-bufferize,canonicalize,cse,"
                         "canonicalize,"
                         "buffer-deallocation-pipeline,canonicalize");
}

void kiln::buildGpuTilingOnCpuBufferizePipeline(OpPassManager &pm,
                                                int64_t pipelineStages) {
  // As the GPU's bufferization (kiln-cuda-to-ptx), with the K loops
  // multi-buffered and pipelined the same way, but synchronous copies.
  addTextualPipeline(pm,
                     llvm::formatv("kiln-bufferize,canonicalize,cse,"
                                   "kiln-gpu-pipeline{{stages={0} async=false},"
                                   "canonicalize,cse,"
                                   "buffer-deallocation-pipeline,canonicalize",
                                   pipelineStages)
                         .str());
}

void kiln::buildCpuToLLVMPipeline(OpPassManager &pm) {
  addTextualPipeline(
      pm, "func.func(convert-linalg-to-loops),scf-forall-to-for,"
          "func.func(lower-vector-multi-reduction{lowering-strategy=inner-"
          "reduction}),convert-vector-to-scf,"
          "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
          "convert-vector-to-llvm{reassociate-fp-reductions},"
          "convert-math-to-llvm,"
          // bf16 arithmetic in f32, rounded by arith-expand's integer
          // code: x86 without AVX512-BF16 would otherwise call
          // __truncsfbf2, which Debian 12's libgcc lacks.
          "arith-emulate-unsupported-floats{source-types=bf16 "
          "target-type=f32},"
          "arith-expand{include-bf16 include-f8e8m0 include-f4e2m1},"
          "convert-arith-to-llvm,convert-index-to-llvm,"
          "finalize-memref-to-llvm,convert-cf-to-llvm,convert-func-to-llvm,"
          "convert-ub-to-llvm,"
          "reconcile-unrealized-casts,canonicalize,cse,"
          "kiln-emit-cpu-entry-abi");
}

void kiln::buildCpuPipeline(OpPassManager &pm) {
  buildCpuLowerToLinalgPipeline(pm);
  buildCpuTilePipeline(pm);
  buildCpuBufferizePipeline(pm);
  buildCpuToLLVMPipeline(pm);
}
