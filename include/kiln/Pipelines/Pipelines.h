//===- Pipelines.h - Kiln's named pass pipelines ----------------*- C++ -*-===//
#ifndef KILN_PIPELINES_PIPELINES_H
#define KILN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace kiln {

/// The CPU pipeline in stages; each is also registered with kiln-opt under
/// the name in parentheses.
///   llm -> linalg on tensors                 (kiln-cpu-lower-to-linalg)
///   tile, fuse and vectorize on tensors      (kiln-cpu-tile)
///   One-Shot Bufferize, out-params, dealloc  (kiln-cpu-bufferize)
///   loops, vectors, memrefs -> LLVM dialect  (kiln-cpu-to-llvm)
/// and all of them in order                   (kiln-cpu-pipeline)
void buildCpuLowerToLinalgPipeline(mlir::OpPassManager &pm);
void buildCpuTilePipeline(mlir::OpPassManager &pm);
void buildCpuBufferizePipeline(mlir::OpPassManager &pm);
void buildCpuToLLVMPipeline(mlir::OpPassManager &pm);
void buildCpuPipeline(mlir::OpPassManager &pm);

/// GPU stage 1: attention to its flash-attention kernel
/// (kiln-flash-attention), the other llm ops to linalg as on the CPU.
void buildCudaLowerToLinalgPipeline(mlir::OpPassManager &pm);

/// GPU stage 2: the GPU lowering configs, thread blocks (`scf.forall` on
/// #gpu.block) and their threads (#gpu.thread).
void buildCudaTilePipeline(mlir::OpPassManager &pm);

/// GPU stages 3 and 4, after kiln-cuda-tile: One-Shot Bufferize,
/// gpu.launch per thread block (kiln-gpu-launch), kernel outlining, NVVM,
/// and PTX through LLVM's NVPTX backend (gpu-module-to-binary, format isa:
/// no CUDA toolkit needed).
struct CudaTargetOptions : mlir::PassPipelineOptions<CudaTargetOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU architecture, e.g. sm_90"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX ISA version, e.g. +ptx80"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("CUDA toolkit whose libdevice provides the math "
                     "functions (and whose ptxas makes cubins)"),
      llvm::cl::init("/usr/local/cuda")};
  Option<int64_t> pipelineStages{
      *this, "pipeline-stages",
      llvm::cl::desc("Software-pipeline stages of the GEMM K loops "
                     "(kiln-gpu-pipeline; 1 = off)"),
      llvm::cl::init(2)};
  Option<bool> mma{
      *this, "mma",
      llvm::cl::desc("bf16/f16 prefill GEMMs on tensor cores (mma.sync)"),
      llvm::cl::init(true)};
  Option<bool> swizzle{
      *this, "swizzle",
      llvm::cl::desc("XOR-swizzle shared-memory tiles (kiln-gpu-swizzle)"),
      llvm::cl::init(true)};
  Option<bool> cpAsync{
      *this, "cp-async",
      llvm::cl::desc("Copy GEMM tiles into shared memory with cp.async"),
      llvm::cl::init(true)};
};
/// Bufferization for `kiln-compile --gpu-tiling-on-cpu`: the CPU's, plus
/// the GPU's K-loop pipelining (synchronous copies), so that the CPU checks
/// the pipelined schedule numerically.
void buildGpuTilingOnCpuBufferizePipeline(mlir::OpPassManager &pm,
                                          int64_t pipelineStages);
void buildCudaToPtxPipeline(mlir::OpPassManager &pm,
                            const CudaTargetOptions &options);

/// Registers Kiln's passes and named pipelines with the global registry.
void registerKilnPassesAndPipelines();

/// Every dialect (and interface implementation) that Kiln's pipelines
/// create or consume.
void registerKilnDialects(mlir::DialectRegistry &registry);

} // namespace kiln

#endif // KILN_PIPELINES_PIPELINES_H
