//===- Pipelines.h - Kiln's named pass pipelines ----------------*- C++ -*-===//
#ifndef KILN_PIPELINES_PIPELINES_H
#define KILN_PIPELINES_PIPELINES_H

#include "mlir/Support/LLVM.h"

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

/// GPU stage 2 (after the shared stage 1, llm to linalg): the GPU lowering
/// configs, thread blocks (`scf.forall` on #gpu.block) and their threads
/// (#gpu.thread). The stages after it (bufferization with GPU memory
/// spaces, gpu.launch, NVVM, PTX) are not written yet.
void buildCudaTilePipeline(mlir::OpPassManager &pm);

/// Registers Kiln's passes and named pipelines with the global registry.
void registerKilnPassesAndPipelines();

/// Every dialect (and interface implementation) that Kiln's pipelines
/// create or consume.
void registerKilnDialects(mlir::DialectRegistry &registry);

} // namespace kiln

#endif // KILN_PIPELINES_PIPELINES_H
