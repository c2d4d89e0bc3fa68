//===- LLMToLinalg.cpp - lower llm ops to linalg on tensors ---------------===//
//
// Narrow floats (bf16, f16) are widened to f32 inside each op and rounded
// once at its end, so every reduction accumulates in f32.
//
//===----------------------------------------------------------------------===//
#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/LLM/IR/LLMOps.h"
#include "kiln/Transforms/BuilderUtils.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

namespace kiln {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#include "kiln/Conversion/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Sizes of `v`, with `tensor.dim` for the dynamic ones.
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value v) {
  return tensor::getMixedSizes(b, loc, v);
}

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elemType) {
  return tensor::EmptyOp::create(b, loc, sizes, elemType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elemType, TypedAttr fillValue) {
  Value empty = emptyTensor(b, loc, sizes, elemType);
  Value cst = arith::ConstantOp::create(b, loc, fillValue);
  return linalg::FillOp::create(b, loc, cst, empty).getResult(0);
}

Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value indexOf(OpBuilder &b, Location loc, Value intValue) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), intValue);
}

/// `index` clamped into [0, size): out-of-range ids and positions must not
/// read or write out of bounds (the runtime reports them before the call).
Value clampIndex(OpBuilder &b, Location loc, Value index, Value size) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value last = arith::SubIOp::create(b, loc, size, one);
  Value atLeastZero = arith::MaxSIOp::create(b, loc, index, zero);
  return arith::MinSIOp::create(b, loc, atLeastZero, last);
}

/// Creates a linalg.generic with one result.
Value makeGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                  ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return generic.getResult(0);
}

/// Marks an intermediate that tile-and-fuse must recompute inside each of
/// its consumers' tiles instead of materialising (attention scores).
void markFuseIntoConsumers(Value v) {
  v.getDefiningOp()->setAttr(kFuseIntoConsumersAttrName,
                             UnitAttr::get(v.getContext()));
}

/// x[..., k] * w[n, k] accumulated in f32: `[m, k] x [n, k] -> [m, n]`.
Value matmulTransposedB(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, lhs, 0),
                                     tensor::getMixedSize(b, loc, rhs, 0)};
  Value acc = filledTensor(b, loc, sizes, b.getF32Type(), b.getF32FloatAttr(0));
  auto matmul = linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                         ValueRange{lhs, rhs}, ValueRange{acc});
  SmallVector<Attribute> maps = {AffineMapAttr::get(dimsMap(ctx, 3, {0, 2})),
                                 AffineMapAttr::get(dimsMap(ctx, 3, {1, 2})),
                                 AffineMapAttr::get(dimsMap(ctx, 3, {0, 1}))};
  matmul.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
  return matmul.getResult(0);
}

struct EmbeddingLowering : OpConversionPattern<llm::EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable(), ids = adaptor.getIds();
    auto resultType = op.getResult().getType();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, ids);
    sizes.push_back(tensor::getMixedSize(rewriter, loc, table, 1));
    Value init = emptyTensor(rewriter, loc, sizes, resultType.getElementType());
    Value vocab = tensor::DimOp::create(rewriter, loc, table, 0);
    MLIRContext *ctx = rewriter.getContext();
    Value result = makeGeneric(
        rewriter, loc, ids, init,
        {dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {0, 1, 2})},
        {kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value id = clampIndex(b, l, indexOf(b, l, args[0]), vocab);
          Value col = linalg::IndexOp::create(b, l, 2);
          return tensor::ExtractOp::create(b, l, table, ValueRange{id, col})
              .getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<llm::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = adaptor.getInput(), weight = adaptor.getWeight();
    auto inputType = tensorType(input);
    Type elemType = inputType.getElementType();
    unsigned rank = inputType.getRank();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    int64_t hidden = inputType.getDimSize(rank - 1);
    if (ShapedType::isDynamic(hidden))
      return rewriter.notifyMatchFailure(op, "dynamic hidden size");

    SmallVector<unsigned> all, outer;
    SmallVector<IteratorType> reduceIters(rank, kPar), parIters(rank, kPar);
    for (unsigned i = 0; i < rank; ++i) {
      all.push_back(i);
      if (i + 1 < rank)
        outer.push_back(i);
    }
    reduceIters.back() = kRed;

    // Sum of squares in f32 over the last axis.
    Value sumInit =
        filledTensor(rewriter, loc, ArrayRef(sizes).drop_back(),
                     rewriter.getF32Type(), rewriter.getF32FloatAttr(0));
    Value sumSq = makeGeneric(
        rewriter, loc, input, sumInit,
        {dimsMap(ctx, rank, all), dimsMap(ctx, rank, outer)}, reduceIters,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = toF32(b, l, args[0]);
          Value sq = arith::MulFOp::create(b, l, x, x);
          return arith::AddFOp::create(b, l, args[1], sq).getResult();
        });

    // As Hugging Face: the normalised value is rounded to the input type
    // before the weight multiplies it.
    float eps = op.getEpsilon().convertToFloat();
    Value init = emptyTensor(rewriter, loc, sizes, elemType);
    Value result = makeGeneric(
        rewriter, loc, ValueRange{input, sumSq, weight}, init,
        {dimsMap(ctx, rank, all), dimsMap(ctx, rank, outer),
         dimsMap(ctx, rank, {rank - 1}), dimsMap(ctx, rank, all)},
        parIters, [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1],
                                             f32Const(b, l, double(hidden)));
          Value var = arith::AddFOp::create(b, l, mean, f32Const(b, l, eps));
          Value inv = math::RsqrtOp::create(b, l, var);
          Value x = arith::MulFOp::create(b, l, toF32(b, l, args[0]), inv);
          Value xr = toF32(b, l, fromF32(b, l, x, elemType));
          Value y = arith::MulFOp::create(b, l, xr, toF32(b, l, args[2]));
          return fromF32(b, l, y, elemType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LinearLowering : OpConversionPattern<llm::LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = adaptor.getInput(), weight = adaptor.getWeight(),
          bias = adaptor.getBias();
    auto inputType = tensorType(input);
    Type elemType = inputType.getElementType();
    unsigned rank = inputType.getRank();

    // out[..., n] = sum_k x[..., k] * w[n, k] as one linalg.contract over
    // the input's own leading dims: no reshape of [batch, seq], whose
    // dynamic split upstream's expand-strided-metadata cannot lower.
    SmallVector<OpFoldResult> outSizes = sizesOf(rewriter, loc, input);
    outSizes.back() = tensor::getMixedSize(rewriter, loc, weight, 0);
    Value acc = filledTensor(rewriter, loc, outSizes, rewriter.getF32Type(),
                             rewriter.getF32FloatAttr(0));
    // Loops: the leading dims, then n, then k.
    unsigned numLoops = rank + 1, n = rank - 1, k = rank;
    SmallVector<unsigned> lead = llvm::to_vector(llvm::seq<unsigned>(n));
    SmallVector<unsigned> xDims = lead, outDims = lead;
    xDims.push_back(k);
    outDims.push_back(n);
    SmallVector<Attribute> maps = {
        AffineMapAttr::get(dimsMap(ctx, numLoops, xDims)),
        AffineMapAttr::get(dimsMap(ctx, numLoops, {n, k})),
        AffineMapAttr::get(dimsMap(ctx, numLoops, outDims))};
    auto contract = linalg::ContractOp::create(
        rewriter, loc, TypeRange{acc.getType()}, ValueRange{input, weight},
        ValueRange{acc}, ArrayAttr::get(ctx, maps));
    Value out = contract.getResult(0);

    // Epilogue: bias and rounding to the activation type.
    if (bias || !elemType.isF32()) {
      SmallVector<unsigned> all = llvm::to_vector(llvm::seq<unsigned>(rank));
      SmallVector<Value> inputs = {out};
      SmallVector<AffineMap> epilogueMaps = {dimsMap(ctx, rank, all)};
      if (bias) {
        inputs.push_back(bias);
        epilogueMaps.push_back(dimsMap(ctx, rank, {rank - 1}));
      }
      epilogueMaps.push_back(dimsMap(ctx, rank, all));
      Value init = emptyTensor(rewriter, loc, outSizes, elemType);
      out = makeGeneric(rewriter, loc, inputs, init, epilogueMaps,
                        SmallVector<IteratorType>(rank, kPar),
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          Value v = args[0];
                          if (bias)
                            v = arith::AddFOp::create(b, l, v,
                                                      toF32(b, l, args[1]));
                          return fromF32(b, l, v, elemType);
                        });
    }
    if (out.getType() != op.getResult().getType())
      out =
          tensor::CastOp::create(rewriter, loc, op.getResult().getType(), out);
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct RopeLowering : OpConversionPattern<llm::RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = adaptor.getInput(), positions = adaptor.getPositions();
    auto inputType = tensorType(input);
    Type elemType = inputType.getElementType();
    int64_t headDim = inputType.getDimSize(3), half = headDim / 2;
    double logTheta = std::log(op.getTheta().convertToDouble());
    // Precomputed frequencies (RoPE scaling) are a constant table.
    Value invFreqTable;
    if (std::optional<ArrayRef<double>> invFreq = op.getInvFreq()) {
      SmallVector<float> values(invFreq->begin(), invFreq->end());
      auto tableType = RankedTensorType::get({half}, rewriter.getF32Type());
      invFreqTable = arith::ConstantOp::create(
          rewriter, loc, DenseElementsAttr::get(tableType, ArrayRef(values)));
    }
    Value init =
        emptyTensor(rewriter, loc, sizesOf(rewriter, loc, input), elemType);
    Value result = makeGeneric(
        rewriter, loc, ValueRange{input, positions}, init,
        {dimsMap(ctx, 4, {0, 1, 2, 3}), dimsMap(ctx, 4, {0, 1}),
         dimsMap(ctx, 4, {0, 1, 2, 3})},
        {kPar, kPar, kPar, kPar},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value d = linalg::IndexOp::create(b, l, 3);
          Value halfIdx = arith::ConstantIndexOp::create(b, l, half);
          Value firstHalf = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::ult, d, halfIdx);
          Value dMinusHalf = arith::SubIOp::create(b, l, d, halfIdx);
          Value dPlusHalf = arith::AddIOp::create(b, l, d, halfIdx);
          Value freqIdx =
              arith::SelectOp::create(b, l, firstHalf, d, dMinusHalf);
          Value partnerIdx =
              arith::SelectOp::create(b, l, firstHalf, dPlusHalf, dMinusHalf);
          // inv_freq = theta^(-2i/head_dim) (or the table), angle =
          // position * inv_freq.
          Value invFreq;
          if (invFreqTable) {
            invFreq = tensor::ExtractOp::create(b, l, invFreqTable,
                                                ValueRange{freqIdx});
          } else {
            Value i = arith::IndexCastOp::create(b, l, b.getI64Type(), freqIdx);
            Value fi = arith::SIToFPOp::create(b, l, b.getF32Type(), i);
            Value expo = arith::MulFOp::create(
                b, l, fi, f32Const(b, l, -2.0 * logTheta / double(headDim)));
            invFreq = math::ExpOp::create(b, l, expo);
          }
          Value pos = arith::SIToFPOp::create(b, l, b.getF32Type(), args[1]);
          Value angle = arith::MulFOp::create(b, l, pos, invFreq);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          // rotate_half: (-x2, x1) for (x1, x2) the two halves.
          Value bIdx = linalg::IndexOp::create(b, l, 0);
          Value sIdx = linalg::IndexOp::create(b, l, 1);
          Value hIdx = linalg::IndexOp::create(b, l, 2);
          Value partner = tensor::ExtractOp::create(
              b, l, input, ValueRange{bIdx, sIdx, hIdx, partnerIdx});
          Value p = toF32(b, l, partner);
          Value negP = arith::NegFOp::create(b, l, p);
          Value rotated = arith::SelectOp::create(b, l, firstHalf, negP, p);
          Value x = toF32(b, l, args[0]);
          Value y =
              arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, x, cos),
                                    arith::MulFOp::create(b, l, rotated, sin));
          return fromF32(b, l, y, elemType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct AttentionLowering : OpConversionPattern<llm::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value query = adaptor.getQuery(), keys = adaptor.getKeys(),
          values = adaptor.getValues(), positions = adaptor.getPositions();
    auto qType = tensorType(query);
    Type elemType = qType.getElementType();
    Type f32 = rewriter.getF32Type();
    int64_t numHeads = qType.getDimSize(2), headDim = qType.getDimSize(3);
    int64_t numKvHeads = tensorType(keys).getDimSize(2);
    int64_t group = numHeads / numKvHeads;
    float scale = op.getScale().convertToFloat();
    std::optional<int64_t> window = op.getSlidingWindow();

    // Query heads h = kvh * group + g, so that keys are indexed by kvh only.
    OpFoldResult batch = tensor::getMixedSize(rewriter, loc, query, 0);
    OpFoldResult seq = tensor::getMixedSize(rewriter, loc, query, 1);
    OpFoldResult kvLen = tensor::getMixedSize(rewriter, loc, keys, 1);
    auto q5Type = RankedTensorType::get(
        {qType.getDimSize(0), qType.getDimSize(1), numKvHeads, group, headDim},
        elemType);
    Value q5 = tensor::ExpandShapeOp::create(
        rewriter, loc, q5Type, query,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4}},
        ArrayRef<OpFoldResult>{batch, seq, rewriter.getIndexAttr(numKvHeads),
                               rewriter.getIndexAttr(group),
                               rewriter.getIndexAttr(headDim)});

    // Loops: b=0 kvh=1 g=2 s=3 j=4 (key) d=5 (head_dim).
    OpFoldResult kvh = rewriter.getIndexAttr(numKvHeads);
    OpFoldResult g = rewriter.getIndexAttr(group);
    OpFoldResult d = rewriter.getIndexAttr(headDim);

    // scores[b, kvh, g, s, j] = sum_d q[b, s, kvh, g, d] * k[b, j, kvh, d].
    Value scoresInit = filledTensor(rewriter, loc, {batch, kvh, g, seq, kvLen},
                                    f32, rewriter.getF32FloatAttr(0));
    Value scores = makeGeneric(
        rewriter, loc, ValueRange{q5, keys}, scoresInit,
        {dimsMap(ctx, 6, {0, 3, 1, 2, 5}), dimsMap(ctx, 6, {0, 4, 1, 5}),
         dimsMap(ctx, 6, {0, 1, 2, 3, 4})},
        {kPar, kPar, kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value prod = arith::MulFOp::create(b, l, toF32(b, l, args[0]),
                                             toF32(b, l, args[1]));
          return arith::AddFOp::create(b, l, args[2], prod).getResult();
        });
    markFuseIntoConsumers(scores);

    // The mask, computed from the key index and the query position.
    auto maskedScore = [&](OpBuilder &b, Location l, Value score, Value pos,
                           unsigned keyLoop) -> Value {
      Value j = linalg::IndexOp::create(b, l, keyLoop);
      Value p = indexOf(b, l, pos);
      Value visible =
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::sle, j, p);
      if (window) {
        Value w = arith::ConstantIndexOp::create(b, l, *window);
        Value lower = arith::SubIOp::create(b, l, p, w);
        Value inWindow =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, j, lower);
        visible = arith::AndIOp::create(b, l, visible, inWindow);
      }
      Value scaled = arith::MulFOp::create(b, l, score, f32Const(b, l, scale));
      Value negInf = f32Const(b, l, -std::numeric_limits<double>::infinity());
      return arith::SelectOp::create(b, l, visible, scaled, negInf);
    };

    // Row max over keys. Loops: b kvh g s j.
    AffineMap row5 = dimsMap(ctx, 5, {0, 1, 2, 3});
    AffineMap all5 = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
    AffineMap pos5 = dimsMap(ctx, 5, {0, 3});
    SmallVector<IteratorType> rowIters = {kPar, kPar, kPar, kPar, kRed};
    Value maxInit = filledTensor(
        rewriter, loc, {batch, kvh, g, seq}, f32,
        rewriter.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    Value rowMax = makeGeneric(
        rewriter, loc, ValueRange{scores, positions}, maxInit,
        {all5, pos5, row5}, rowIters,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value s = maskedScore(b, l, args[0], args[1], 4);
          return arith::MaximumFOp::create(b, l, args[2], s).getResult();
        });
    markFuseIntoConsumers(rowMax);

    // Row sum of exp(score - max).
    Value sumInit = filledTensor(rewriter, loc, {batch, kvh, g, seq}, f32,
                                 rewriter.getF32FloatAttr(0));
    Value rowSum = makeGeneric(
        rewriter, loc, ValueRange{scores, positions, rowMax}, sumInit,
        {all5, pos5, row5, row5}, rowIters,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value s = maskedScore(b, l, args[0], args[1], 4);
          Value e = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, s, args[2]));
          return arith::AddFOp::create(b, l, args[3], e).getResult();
        });

    // out[b, s, kvh, g, d] = sum_j softmax[b, kvh, g, s, j] * v[b, j, kvh, d].
    // Loops: b=0 kvh=1 g=2 s=3 d=4 j=5.
    Value outInit = filledTensor(rewriter, loc, {batch, seq, kvh, g, d}, f32,
                                 rewriter.getF32FloatAttr(0));
    Value out = makeGeneric(
        rewriter, loc, ValueRange{scores, positions, rowMax, rowSum, values},
        outInit,
        {dimsMap(ctx, 6, {0, 1, 2, 3, 5}), dimsMap(ctx, 6, {0, 3}),
         dimsMap(ctx, 6, {0, 1, 2, 3}), dimsMap(ctx, 6, {0, 1, 2, 3}),
         dimsMap(ctx, 6, {0, 5, 1, 4}), dimsMap(ctx, 6, {0, 3, 1, 2, 4})},
        {kPar, kPar, kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value s = maskedScore(b, l, args[0], args[1], 5);
          Value e = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, s, args[2]));
          Value p = arith::DivFOp::create(b, l, e, args[3]);
          Value pv = arith::MulFOp::create(b, l, p, toF32(b, l, args[4]));
          return arith::AddFOp::create(b, l, args[5], pv).getResult();
        });

    if (!elemType.isF32()) {
      Value init =
          emptyTensor(rewriter, loc, {batch, seq, kvh, g, d}, elemType);
      AffineMap id = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
      out = makeGeneric(rewriter, loc, out, init, {id, id},
                        {kPar, kPar, kPar, kPar, kPar},
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          return fromF32(b, l, args[0], elemType);
                        });
    }
    Value result = tensor::CollapseShapeOp::create(
        rewriter, loc, op.getResult().getType(), out,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct KVCacheWriteLowering : OpConversionPattern<llm::KVCacheWriteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::KVCacheWriteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value cache = adaptor.getCache(), update = adaptor.getUpdate(),
          positions = adaptor.getPositions();
    auto updateType = tensorType(update);
    SmallVector<OpFoldResult> ubs = {
        tensor::getMixedSize(rewriter, loc, update, 0),
        tensor::getMixedSize(rewriter, loc, update, 1)};
    OpFoldResult kvh = tensor::getMixedSize(rewriter, loc, update, 2);
    OpFoldResult hd = tensor::getMixedSize(rewriter, loc, update, 3);
    OpFoldResult one = rewriter.getIndexAttr(1);
    OpFoldResult zero = rewriter.getIndexAttr(0);
    auto rowType = RankedTensorType::get(
        {1, 1, updateType.getDimSize(2), updateType.getDimSize(3)},
        updateType.getElementType());

    Value maxContext = tensor::DimOp::create(rewriter, loc, cache, 1);
    // One (batch, token) row per iteration; the destination is the cache
    // itself (shared_outs), and the row is copied by a linalg.copy into its
    // slice, so bufferization writes it in place. The iterations are
    // mapped to GPU blocks (the GPU target shares each row's copy among a
    // block's threads; the CPU lowers the forall to loops).
    MLIRContext *ctx = rewriter.getContext();
    ArrayAttr mapping = rewriter.getArrayAttr(
        {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::LinearDim1),
         gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::LinearDim0)});
    auto forall = scf::ForallOp::create(
        rewriter, loc, ubs, ValueRange{cache}, mapping,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value bIdx = args[0], sIdx = args[1], dest = args[2];
          Value pos = tensor::ExtractOp::create(b, l, positions,
                                                ValueRange{bIdx, sIdx});
          Value p = clampIndex(b, l, indexOf(b, l, pos), maxContext);
          SmallVector<OpFoldResult> destOffsets = {bIdx, p, zero, zero};
          SmallVector<OpFoldResult> sizes = {one, one, kvh, hd};
          SmallVector<OpFoldResult> strides = {one, one, one, one};
          Value row = tensor::ExtractSliceOp::create(
              b, l, rowType, update,
              ArrayRef<OpFoldResult>{bIdx, sIdx, zero, zero}, sizes, strides);
          Value destRow = tensor::ExtractSliceOp::create(
              b, l, rowType, dest, destOffsets, sizes, strides);
          Value copied =
              linalg::CopyOp::create(b, l, row, destRow).getResult(0);
          auto inParallel = scf::InParallelOp::create(b, l);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(inParallel.getBody());
          tensor::ParallelInsertSliceOp::create(b, l, copied, dest,
                                                destOffsets, sizes, strides);
        });
    rewriter.replaceOp(op, forall.getResults());
    return success();
  }
};

struct SiluMulLowering : OpConversionPattern<llm::SiluMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::SiluMulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value gate = adaptor.getGate(), up = adaptor.getUp();
    auto type = tensorType(gate);
    unsigned rank = type.getRank();
    SmallVector<unsigned> dims = llvm::to_vector(llvm::seq<unsigned>(rank));
    AffineMap id = dimsMap(rewriter.getContext(), rank, dims);
    Value init = emptyTensor(rewriter, loc, sizesOf(rewriter, loc, gate),
                             type.getElementType());
    Value result = makeGeneric(
        rewriter, loc, ValueRange{gate, up}, init, {id, id, id},
        SmallVector<IteratorType>(rank, kPar),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = toF32(b, l, args[0]);
          // silu(x) = x / (1 + exp(-x))
          Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
          Value denom = arith::AddFOp::create(b, l, f32Const(b, l, 1.0), e);
          Value silu = arith::DivFOp::create(b, l, x, denom);
          Value y = arith::MulFOp::create(b, l, silu, toF32(b, l, args[1]));
          return fromF32(b, l, y, type.getElementType());
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct AddLowering : OpConversionPattern<llm::AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    Value init = emptyTensor(rewriter, loc, sizesOf(rewriter, loc, lhs),
                             tensorType(lhs).getElementType());
    auto add = linalg::AddOp::create(rewriter, loc, TypeRange{init.getType()},
                                     ValueRange{lhs, rhs}, ValueRange{init});
    rewriter.replaceOp(op, add.getResults());
    return success();
  }
};

struct LogitsLowering : OpConversionPattern<llm::LogitsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LogitsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value hidden = adaptor.getHidden(), weight = adaptor.getWeight();
    auto hType = tensorType(hidden);
    OpFoldResult batch = tensor::getMixedSize(rewriter, loc, hidden, 0);
    OpFoldResult hiddenSize = tensor::getMixedSize(rewriter, loc, hidden, 2);
    Value seq = tensor::DimOp::create(rewriter, loc, hidden, 1);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value lastPos = arith::SubIOp::create(rewriter, loc, seq, one);
    OpFoldResult c0 = rewriter.getIndexAttr(0), c1 = rewriter.getIndexAttr(1);
    auto lastType = RankedTensorType::get(
        {hType.getDimSize(0), hType.getDimSize(2)}, hType.getElementType());
    Value last = tensor::ExtractSliceOp::create(
        rewriter, loc, lastType, hidden,
        ArrayRef<OpFoldResult>{c0, lastPos, c0},
        ArrayRef<OpFoldResult>{batch, c1, hiddenSize},
        ArrayRef<OpFoldResult>{c1, c1, c1});
    Value logits = matmulTransposedB(rewriter, loc, last, weight);
    if (logits.getType() != op.getResult().getType())
      logits = tensor::CastOp::create(rewriter, loc, op.getResult().getType(),
                                      logits);
    rewriter.replaceOp(op, logits);
    return success();
  }
};

/// Two reductions, neither carrying an index pair, so that each splits
/// across threads and merges with one commutative combiner (warp shuffles
/// on the GPU): the row maximum (`maximumf`, which propagates NaN), then the
/// lowest index holding it (`minsi` over `logit == max ? v : vocab`). A row
/// with a NaN matches nowhere and keeps `vocab`.
struct ArgmaxLowering : OpConversionPattern<llm::ArgmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::ArgmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value logits = adaptor.getLogits();
    int64_t vocab = tensorType(logits).getDimSize(1);
    SmallVector<OpFoldResult> rows = {
        tensor::getMixedSize(rewriter, loc, logits, 0)};
    AffineMap all = dimsMap(ctx, 2, {0, 1}), row = dimsMap(ctx, 2, {0});
    Value maxInit = filledTensor(
        rewriter, loc, rows, rewriter.getF32Type(),
        rewriter.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    Value rowMax = makeGeneric(
        rewriter, loc, logits, maxInit, {all, row}, {kPar, kRed},
        [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::MaximumFOp::create(b, l, args[0], args[1]).getResult();
        });
    Value firstInit =
        filledTensor(rewriter, loc, rows, rewriter.getI32Type(),
                     rewriter.getI32IntegerAttr(static_cast<int32_t>(vocab)));
    Value first = makeGeneric(
        rewriter, loc, ValueRange{logits, rowMax}, firstInit, {all, row, row},
        {kPar, kRed}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value isMax = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                              args[0], args[1]);
          Value v = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 1));
          Value none = arith::ConstantOp::create(
              b, l, b.getI32IntegerAttr(static_cast<int32_t>(vocab)));
          Value candidate = arith::SelectOp::create(b, l, isMax, v, none);
          return arith::MinSIOp::create(b, l, candidate, args[2]).getResult();
        });
    if (first.getType() != op.getResult().getType())
      first = tensor::CastOp::create(rewriter, loc, op.getResult().getType(),
                                     first);
    rewriter.replaceOp(op, first);
    return success();
  }
};

struct ConvertLLMToLinalgPass final
    : kiln::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Shapes the lowering cannot handle get a diagnostic naming the reason
    // instead of a bare "failed to legalize".
    WalkResult unsupported = getOperation()->walk([](llm::RMSNormOp op) {
      auto type = cast<RankedTensorType>(op.getInput().getType());
      if (type.getRank() > 0 && !type.isDynamicDim(type.getRank() - 1))
        return WalkResult::advance();
      op.emitOpError("cannot be lowered: the normalised (last) dimension "
                     "must be static");
      return WalkResult::interrupt();
    });
    if (unsupported.wasInterrupted())
      return signalPassFailure();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<llm::LLMDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateLLMToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateLLMToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbeddingLowering, RMSNormLowering, LinearLowering, RopeLowering,
               AttentionLowering, KVCacheWriteLowering, SiluMulLowering,
               AddLowering, LogitsLowering, ArgmaxLowering>(
      patterns.getContext());
}
