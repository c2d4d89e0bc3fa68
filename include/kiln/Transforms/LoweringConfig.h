//===- LoweringConfig.h - reading and choosing tile sizes -------*- C++ -*-===//
#ifndef KILN_TRANSFORMS_LOWERINGCONFIG_H
#define KILN_TRANSFORMS_LOWERINGCONFIG_H

#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/Operation.h"

namespace mlir::linalg {
class LinalgOp;
} // namespace mlir::linalg

namespace kiln {

/// The config attached to `op`, or null.
llm::LoweringConfigAttr getLoweringConfig(mlir::Operation *op);

/// Whether tile-and-fuse should fuse `op` into its consumers rather than
/// tile it as the root of its own fusion group.
bool isFusedIntoConsumers(mlir::linalg::LinalgOp op);

/// The CPU heuristic: tile sizes for a root linalg op.
llm::LoweringConfigAttr chooseCpuLoweringConfig(mlir::linalg::LinalgOp op);

/// Checks that `config` fits `op` (one size per loop, no distributed
/// reduction loop); emits an error on `op` otherwise.
mlir::LogicalResult verifyLoweringConfig(mlir::linalg::LinalgOp op,
                                         llm::LoweringConfigAttr config);

} // namespace kiln

#endif // KILN_TRANSFORMS_LOWERINGCONFIG_H
