//===- VectorizeLinalg.cpp - vectorize static linalg tiles ----------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_VECTORIZELINALG
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
/// `addf(acc, mulf(a, b))` on f32 or f64 vectors, the mulf used only there,
/// becomes `vector.fma(a, b, acc)`: one rounding instead of two, and one
/// instruction (the vectorized partial sums of a split contraction).
struct FuseMulAddIntoFma final : OpRewritePattern<arith::AddFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(arith::AddFOp add,
                                PatternRewriter &rewriter) const override {
    // Narrower floats are widened by arith-expand, which knows no fma.
    auto type = dyn_cast<VectorType>(add.getType());
    if (!type || !isa<Float32Type, Float64Type>(type.getElementType()))
      return failure();
    for (unsigned i = 0; i < 2; ++i) {
      auto mul = add->getOperand(i).getDefiningOp<arith::MulFOp>();
      if (!mul || !mul->hasOneUse())
        continue;
      rewriter.replaceOpWithNewOp<vector::FMAOp>(
          add, mul.getLhs(), mul.getRhs(), add->getOperand(1 - i));
      return success();
    }
    return failure();
  }
};

struct VectorizeLinalgPass final
    : kiln::impl::VectorizeLinalgBase<VectorizeLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics())
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      StringRef why;
      if (!fitsVector(op, why)) {
        if (report)
          op->emitRemark("not vectorized (")
              << op->getName() << ", " << op.getNumLoops()
              << " loops): " << why;
        continue;
      }
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::VectorizationResult> result =
          linalg::vectorize(rewriter, op, /*inputVectorSizes=*/{},
                            /*inputScalableVecDims=*/{},
                            /*vectorizeNDExtract=*/true);
      if (failed(result)) {
        if (report)
          op->emitRemark("not vectorized (")
              << op->getName() << "): the vectorizer rejected it";
        continue;
      }
      rewriter.replaceOp(op, result->replacements);
    }

    RewritePatternSet patterns(&getContext());
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateSinkVectorOpsPatterns(patterns);
    tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
    patterns.add<FuseMulAddIntoFma>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }

  bool fitsVector(linalg::LinalgOp op, StringRef &why) {
    int64_t elements = 1;
    for (int64_t range : op.getStaticLoopRanges()) {
      if (ShapedType::isDynamic(range)) {
        why = "dynamic iteration space";
        return false;
      }
      elements *= range;
    }
    if (elements > maxVectorElements) {
      why = "iteration space larger than max-vector-elements";
      return false;
    }
    return true;
  }
};
} // namespace
