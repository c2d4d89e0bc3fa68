//===- LoweringConfig.h - reading and choosing tile sizes -------*- C++ -*-===//
#ifndef KILN_TRANSFORMS_LOWERINGCONFIG_H
#define KILN_TRANSFORMS_LOWERINGCONFIG_H

#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::linalg {
class LinalgOp;
} // namespace mlir::linalg

namespace kiln {

/// Whether `op` is an scf.forall mapped to `#gpu.thread` (the thread level
/// of kiln-tile-and-fuse).
bool isThreadForall(mlir::Operation *op);
/// Whether `op` is nested in an scf.forall mapped to `#gpu.thread`, or to
/// `#gpu.block` (a thread block).
bool insideThreadForall(mlir::Operation *op);
bool insideBlockForall(mlir::Operation *op);

/// The config attached to `op`, or null.
llm::LoweringConfigAttr getLoweringConfig(mlir::Operation *op);

/// Whether `op` carries a config with `distribute` tile sizes, i.e. roots a
/// fusion group at the outer level. A config with an empty `distribute`
/// belongs to an op fused into its consumer that is tiled again, on its own,
/// at the inner level (the contraction under a matmul epilogue, say).
bool isDistributionRoot(mlir::Operation *op);

/// Whether tile-and-fuse should fuse `op` into its consumers rather than
/// tile it as the root of its own fusion group.
bool isFusedIntoConsumers(mlir::linalg::LinalgOp op);

/// The CPU heuristic: tile sizes for a linalg op. With `isRoot` false the
/// config has no `distribute` sizes (the op is fused at the outer level).
llm::LoweringConfigAttr chooseCpuLoweringConfig(mlir::linalg::LinalgOp op,
                                                bool isRoot = true);

/// The GPU heuristic for a root op: one thread block per tile of at most
/// kGpuBlockThreads elements of the innermost parallel loop (one row of the
/// dynamic token and batch loops), one thread per element of that loop.
/// Reductions stay whole inside a thread for now (correctness first; warp
/// reductions come next).
llm::LoweringConfigAttr chooseGpuLoweringConfig(mlir::linalg::LinalgOp op);

/// For a decode-step GEMV (a contraction over one sequence: at most one
/// dynamic parallel loop, the batch, and a static reduction of at least 64
/// that is a multiple of 32), the reduction loop the GPU splits over a
/// warp; -1 for any other op.
int64_t gpuGemvReduction(mlir::linalg::LinalgOp op);

/// The loops of a prefill GEMM on the GPU: a contraction over one static
/// reduction (a multiple of 32, at least 64) with a dynamic token loop and
/// a static feature loop (a multiple of 32) that is not a GEMV.
struct GpuGemmLoops {
  int64_t tokens, features, reduction;
};
std::optional<GpuGemmLoops> gpuGemmLoops(mlir::linalg::LinalgOp op);

/// Threads per block the GPU heuristic aims for.
constexpr int64_t kGpuBlockThreads = 128;
/// Tokens per thread block of a prefill GEMM.
constexpr int64_t kGpuGemmTokens = 32;

/// Checks that `config` fits `op` (one size per loop, no distributed
/// reduction loop); emits an error on `op` otherwise.
mlir::LogicalResult verifyLoweringConfig(mlir::linalg::LinalgOp op,
                                         llm::LoweringConfigAttr config);

} // namespace kiln

#endif // KILN_TRANSFORMS_LOWERINGCONFIG_H
