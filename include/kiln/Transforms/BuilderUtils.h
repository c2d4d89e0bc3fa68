//===- BuilderUtils.h - small IR-building helpers -------------*- C++ -*-===//
//
// Helpers shared by the passes that build linalg generics by hand
// (kiln-convert-llm-to-linalg, kiln-flash-attention).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TRANSFORMS_BUILDERUTILS_H
#define KILN_TRANSFORMS_BUILDERUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"

namespace kiln {

/// Affine map over `numDims` loops selecting `dims`.
inline mlir::AffineMap dimsMap(mlir::MLIRContext *ctx, unsigned numDims,
                               llvm::ArrayRef<unsigned> dims) {
  llvm::SmallVector<mlir::AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(mlir::getAffineDimExpr(d, ctx));
  return mlir::AffineMap::get(numDims, 0, exprs, ctx);
}

inline mlir::Value f32Const(mlir::OpBuilder &b, mlir::Location loc,
                            double value) {
  return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// `v` widened to f32 (narrow floats are computed in f32).
inline mlir::Value toF32(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value v) {
  if (v.getType().isF32())
    return v;
  return mlir::arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

} // namespace kiln

#endif // KILN_TRANSFORMS_BUILDERUTILS_H
