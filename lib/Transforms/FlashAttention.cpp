//===- FlashAttention.cpp - llm.attention as a GPU flash-attention kernel -===//
//
// The CPU lowering of llm.attention computes every row's scores over the
// whole key sequence into a buffer; a GPU thread block cannot allocate a
// buffer whose size it learns at run time. This pass lowers the op for the
// GPU target into a kernel that walks the keys in tiles of a static size
// with the online softmax (flash attention), so that every buffer of a
// block is static and no [seq, kv_len] matrix exists anywhere:
//
//   grid: batch x kv head x blocks of query rows x splits of the keys
//   block: rows = query positions of the block x the heads of the group
//     m = -inf, l = 0, acc = 0
//     for each tile of `key-tile` keys of the block's split:
//       s = q k^T (masked), m' = max(m, rowmax s), alpha = exp(m - m'),
//       p = exp(s - m'), l = l alpha + rowsum p, acc = acc alpha + p v
//     partial (acc, m, l) of the split -> global memory
//   then, per row over the splits (flash decoding's combine step):
//     m* = max m_c, l* = sum l_c exp(m_c - m*),
//     out = sum acc_c exp(m_c - m*) / l*
//
// The decode step (one query position) splits the keys into chunks of
// `keys-per-split` keys, so that a single sequence still fills the GPU;
// prefill uses one split per row block. The ops inside the block are
// linalg ops with a `threads`-only lowering config: kiln-tile-and-fuse's
// thread level shares each among the block's threads.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/LLM/IR/LLMOps.h"
#include "kiln/Transforms/BuilderUtils.h"
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

namespace kiln {
#define GEN_PASS_DEF_FLASHATTENTION
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

Value indexConst(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value toIndex(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value minIndex(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MinSIOp::create(b, loc, x, y);
}

Value maxIndex(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MaxSIOp::create(b, loc, x, y);
}

/// Builds the kernel of one llm.attention op.
class FlashAttentionBuilder {
public:
  FlashAttentionBuilder(RewriterBase &rewriter, llm::AttentionOp op,
                        int64_t keyTile, int64_t keysPerSplit,
                        int64_t rowsPerBlock)
      : b(rewriter), op(op), loc(op.getLoc()), ctx(op.getContext()),
        keyTile(keyTile) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    elemType = qType.getElementType();
    numHeads = qType.getDimSize(2);
    headDim = qType.getDimSize(3);
    numKvHeads = cast<RankedTensorType>(op.getKeys().getType()).getDimSize(2);
    group = numHeads / numKvHeads;
    // One query position (the decode step): split the keys so that the
    // grid has more than batch x kv-heads blocks.
    decode = qType.getDimSize(1) == 1;
    split = decode ? keysPerSplit : 0;
    queriesPerBlock = decode ? 1 : std::max<int64_t>(1, rowsPerBlock / group);
    rows = queriesPerBlock * group;
    headDimThreads = std::min<int64_t>(headDim, kGpuBlockThreads);
    rowThreads = std::min<int64_t>(rows, kGpuBlockThreads);
    groupThreads = std::min<int64_t>(group, kGpuBlockThreads);
    f32 = b.getF32Type();
  }

  Value build();

private:
  /// A linalg.generic whose lowering config shares it among `threads`
  /// threads per loop (kiln-tile-and-fuse level=thread).
  Value generic(ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators, ArrayRef<int64_t> threads,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto op = linalg::GenericOp::create(
        b, loc, init.getType(), inputs, init, maps, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
        });
    op->setAttr(llm::LoweringConfigAttr::getAttrName(),
                llm::LoweringConfigAttr::get(ctx, /*distribute=*/{},
                                             /*vector=*/{}, threads));
    return op.getResult(0);
  }

  Value empty(ArrayRef<int64_t> shape, Type type) {
    return tensor::EmptyOp::create(b, loc, shape, type);
  }
  Value filled(ArrayRef<int64_t> shape, double value) {
    Value cst = f32Const(b, loc, value);
    return linalg::FillOp::create(b, loc, cst, empty(shape, f32)).getResult(0);
  }

  /// Whether key `t0 + t` is visible from row `r` (its position `pos`):
  /// inside the block's key range, causal, and inside the sliding window.
  Value visible(OpBuilder &nb, Location l, Value t0, Value pos) {
    Value t = linalg::IndexOp::create(nb, l, 1);
    Value j = arith::AddIOp::create(nb, l, t0, t);
    Value p = toIndex(nb, l, pos);
    Value inRange =
        arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, j, keyEnd);
    Value causal =
        arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sle, j, p);
    Value ok = arith::AndIOp::create(nb, l, inRange, causal);
    if (std::optional<int64_t> window = op.getSlidingWindow()) {
      Value lower =
          arith::SubIOp::create(nb, l, p, indexConst(nb, l, *window));
      Value inWindow =
          arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sgt, j, lower);
      ok = arith::AndIOp::create(nb, l, ok, inWindow);
    }
    return ok;
  }

  /// Row `t0 + t` of keys or values, clamped into the block's key range so
  /// that the reads of a partial last tile stay in written cache rows.
  Value keyRow(OpBuilder &nb, Location l, Value t0, unsigned keyLoop) {
    Value t = linalg::IndexOp::create(nb, l, keyLoop);
    Value j = arith::AddIOp::create(nb, l, t0, t);
    return minIndex(nb, l, j, keyEndMinusOne);
  }

  void buildBlock(OpBuilder &nb, Location l, ValueRange args);

  RewriterBase &b;
  llm::AttentionOp op;
  Location loc;
  MLIRContext *ctx;
  Type elemType, f32;
  int64_t keyTile, numHeads, headDim, numKvHeads, group, split;
  int64_t queriesPerBlock, rows, headDimThreads, rowThreads, groupThreads;
  bool decode;
  // Host values.
  Value seqLen, kvLen;
  // Block values.
  Value keyEnd, keyEndMinusOne;
};

Value FlashAttentionBuilder::build() {
  b.setInsertionPoint(op);
  Value query = op.getQuery(), keys = op.getKeys();
  OpFoldResult batch = tensor::getMixedSize(b, loc, query, 0);
  OpFoldResult seq = tensor::getMixedSize(b, loc, query, 1);
  seqLen = getValueOrCreateConstantIndexOp(b, loc, seq);
  kvLen = tensor::DimOp::create(b, loc, keys, 1);

  Value qBlocks = arith::CeilDivUIOp::create(
      b, loc, seqLen, indexConst(b, loc, queriesPerBlock));
  Value paddedSeq = arith::MulIOp::create(b, loc, qBlocks,
                                          indexConst(b, loc, queriesPerBlock));
  OpFoldResult splits =
      split ? OpFoldResult(arith::CeilDivUIOp::create(
                  b, loc, kvLen, indexConst(b, loc, split)))
            : OpFoldResult(b.getIndexAttr(1));
  OpFoldResult kvh = b.getIndexAttr(numKvHeads), g = b.getIndexAttr(group),
               d = b.getIndexAttr(headDim);

  // Partial results per split: the split's normalised output o = acc / l
  // [B, C, S', KVH, G, D] and its log-sum-exp m + log l [B, C, S', KVH, G]
  // (S' = query positions rounded up to whole blocks).
  Value outParts = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, splits, paddedSeq, kvh, g, d}, f32);
  Value lseParts = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, splits, paddedSeq, kvh, g}, f32);

  SmallVector<Attribute> mapping;
  for (int64_t dim : {3, 2, 1, 0})
    mapping.push_back(gpu::GPUBlockMappingAttr::get(
        ctx, static_cast<gpu::MappingId>(
                 static_cast<int64_t>(gpu::MappingId::LinearDim0) + dim)));
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, kvh, qBlocks, splits},
      ValueRange{outParts, lseParts}, b.getArrayAttr(mapping),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        buildBlock(nb, l, args);
      });
  b.setInsertionPointAfter(forall);
  // The rows of real query positions: the combine's loops must see the
  // same extents in every operand.
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  outParts = tensor::ExtractSliceOp::create(
      b, loc, forall.getResult(0),
      ArrayRef<OpFoldResult>{zero, zero, zero, zero, zero, zero},
      ArrayRef<OpFoldResult>{batch, splits, seq, kvh, g, d},
      SmallVector<OpFoldResult>(6, one));
  lseParts = tensor::ExtractSliceOp::create(
      b, loc, forall.getResult(1),
      ArrayRef<OpFoldResult>{zero, zero, zero, zero, zero},
      ArrayRef<OpFoldResult>{batch, splits, seq, kvh, g},
      SmallVector<OpFoldResult>(5, one));

  // Combine the splits of each row. Loops: b s kvh g (d) c.
  SmallVector<OpFoldResult> rowSizes = {batch, seq, kvh, g};
  auto filledDyn = [&](ArrayRef<OpFoldResult> sizes, double value) -> Value {
    Value init = tensor::EmptyOp::create(b, loc, sizes, f32);
    return linalg::FillOp::create(b, loc, f32Const(b, loc, value), init)
        .getResult(0);
  };
  auto makeGeneric =
      [&](ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
          ArrayRef<IteratorType> iterators,
          function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
        return linalg::GenericOp::create(
                   b, loc, init.getType(), inputs, init, maps, iterators,
                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                     linalg::YieldOp::create(nb, nl, body(nb, nl, args));
                   })
            .getResult(0);
      };
  AffineMap part5 = dimsMap(ctx, 5, {0, 4, 1, 2, 3});
  AffineMap row5 = dimsMap(ctx, 5, {0, 1, 2, 3});
  SmallVector<IteratorType> rowIters = {kPar, kPar, kPar, kPar, kRed};
  // out = sum_c o_c w_c / sum_c w_c with w_c = exp(lse_c - max lse): a
  // split that saw no visible key has lse_c = -inf and weight 0.
  Value maxLse =
      makeGeneric(lseParts, filledDyn(rowSizes, kNegInf), {part5, row5},
                  rowIters, [](OpBuilder &nb, Location l, ValueRange a) {
                    return arith::MaximumFOp::create(nb, l, a[1], a[0])
                        .getResult();
                  });
  Value weightSum = makeGeneric(
      ValueRange{lseParts, maxLse}, filledDyn(rowSizes, 0.0),
      {part5, row5, row5}, rowIters,
      [](OpBuilder &nb, Location l, ValueRange a) {
        Value w = math::ExpOp::create(nb, l,
                                      arith::SubFOp::create(nb, l, a[0], a[1]));
        return arith::AddFOp::create(nb, l, a[2], w).getResult();
      });
  SmallVector<OpFoldResult> outSizes = {batch, seq, kvh, g, d};
  Value out = makeGeneric(
      ValueRange{outParts, lseParts, maxLse, weightSum},
      filledDyn(outSizes, 0.0),
      {dimsMap(ctx, 6, {0, 5, 1, 2, 3, 4}), dimsMap(ctx, 6, {0, 5, 1, 2, 3}),
       dimsMap(ctx, 6, {0, 1, 2, 3}), dimsMap(ctx, 6, {0, 1, 2, 3}),
       dimsMap(ctx, 6, {0, 1, 2, 3, 4})},
      {kPar, kPar, kPar, kPar, kPar, kRed},
      [](OpBuilder &nb, Location l, ValueRange a) {
        Value w = math::ExpOp::create(nb, l,
                                      arith::SubFOp::create(nb, l, a[1], a[2]));
        Value scaled = arith::DivFOp::create(
            nb, l, arith::MulFOp::create(nb, l, a[0], w), a[3]);
        return arith::AddFOp::create(nb, l, a[4], scaled).getResult();
      });
  if (!elemType.isF32()) {
    Value init = tensor::EmptyOp::create(b, loc, outSizes, elemType);
    AffineMap id = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
    out = makeGeneric(out, init, {id, id}, {kPar, kPar, kPar, kPar, kPar},
                      [&](OpBuilder &nb, Location l, ValueRange a) {
                        return arith::TruncFOp::create(nb, l, elemType, a[0])
                            .getResult();
                      });
  }
  return tensor::CollapseShapeOp::create(
      b, loc, op.getResult().getType(), out,
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
}

void FlashAttentionBuilder::buildBlock(OpBuilder &nb, Location l,
                                       ValueRange args) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
  Value batchIdx = args[0], kvHead = args[1], qBlock = args[2],
        splitIdx = args[3];
  Value outParts = args[4], lseParts = args[5];
  Value query = op.getQuery(), keys = op.getKeys(), values = op.getValues(),
        positions = op.getPositions();
  Value firstQuery =
      arith::MulIOp::create(b, l, qBlock, indexConst(b, l, queriesPerBlock));
  Value lastQuery =
      arith::SubIOp::create(b, l, seqLen, indexConst(b, l, 1));
  Value groupSize = indexConst(b, l, group);
  // Query position of row r (r = query * group + head in group), clamped
  // to the last one for the rows of a partial last block.
  auto queryOfRow = [&](OpBuilder &nb, Location nl, Value r) {
    Value qIdx = arith::DivUIOp::create(nb, nl, r, groupSize);
    return minIndex(nb, nl, arith::AddIOp::create(nb, nl, firstQuery, qIdx),
                    lastQuery);
  };

  // The block's queries, pre-scaled, in f32: [rows, head_dim].
  float scale = op.getScale().convertToFloat();
  Value qTile = generic(
      {}, empty({rows, headDim}, f32), {dimsMap(ctx, 2, {0, 1})}, {kPar, kPar},
      {0, headDimThreads}, [&](OpBuilder &nb, Location nl, ValueRange) {
        Value r = linalg::IndexOp::create(nb, nl, 0);
        Value dIdx = linalg::IndexOp::create(nb, nl, 1);
        Value head = arith::AddIOp::create(
            nb, nl, arith::MulIOp::create(nb, nl, kvHead, groupSize),
            arith::RemUIOp::create(nb, nl, r, groupSize));
        Value q = tensor::ExtractOp::create(
            nb, nl, query,
            ValueRange{batchIdx, queryOfRow(nb, nl, r), head, dIdx});
        return arith::MulFOp::create(nb, nl, toF32(nb, nl, q),
                                     f32Const(nb, nl, scale))
            .getResult();
      });
  // Positions of the rows.
  Type posType = cast<RankedTensorType>(positions.getType()).getElementType();
  Value posTile = generic(
      {}, empty({rows}, posType), {dimsMap(ctx, 1, {0})}, {kPar}, {rowThreads},
      [&](OpBuilder &nb, Location nl, ValueRange) {
        Value r = linalg::IndexOp::create(nb, nl, 0);
        return tensor::ExtractOp::create(
                   nb, nl, positions,
                   ValueRange{batchIdx, queryOfRow(nb, nl, r)})
            .getResult();
      });

  // The keys the block visits: its split, up to the last position of its
  // rows (causal), from the window's start of the first. Every thread
  // computes the same bounds (reads only).
  Value minPos, maxPos;
  {
    Value first = toIndex(
        b, l,
        tensor::ExtractOp::create(b, l, positions,
                                  ValueRange{batchIdx, firstQuery}));
    auto loop = scf::ForOp::create(
        b, l, indexConst(b, l, 0), indexConst(b, l, queriesPerBlock),
        indexConst(b, l, 1), ValueRange{first, first},
        [&](OpBuilder &lb, Location ll, Value q, ValueRange iter) {
          Value s = minIndex(lb, ll, arith::AddIOp::create(lb, ll, firstQuery, q),
                             lastQuery);
          Value p = toIndex(
              lb, ll,
              tensor::ExtractOp::create(lb, ll, positions,
                                        ValueRange{batchIdx, s}));
          scf::YieldOp::create(lb, ll,
                               ValueRange{minIndex(lb, ll, iter[0], p),
                                          maxIndex(lb, ll, iter[1], p)});
        });
    minPos = loop.getResult(0);
    maxPos = loop.getResult(1);
  }
  Value keyBegin = indexConst(b, l, 0);
  keyEnd = minIndex(b, l, kvLen,
                    arith::AddIOp::create(b, l, maxPos, indexConst(b, l, 1)));
  if (split) {
    keyBegin = arith::MulIOp::create(b, l, splitIdx, indexConst(b, l, split));
    keyEnd = minIndex(
        b, l, keyEnd,
        arith::AddIOp::create(b, l, keyBegin, indexConst(b, l, split)));
  }
  if (std::optional<int64_t> window = op.getSlidingWindow())
    keyBegin = maxIndex(
        b, l, keyBegin,
        arith::SubIOp::create(b, l, minPos, indexConst(b, l, *window - 1)));
  keyEndMinusOne = arith::SubIOp::create(b, l, keyEnd, indexConst(b, l, 1));

  AffineMap r1 = dimsMap(ctx, 1, {0});
  AffineMap rt = dimsMap(ctx, 2, {0, 1}), rOf2 = dimsMap(ctx, 2, {0});
  // The softmax's row maximum and row sum over a key tile: split across the
  // 32 lanes of a warp (lane t reduces keys t, t + 32, ...), the lanes'
  // partials then merged with warp shuffles, a warp per row
  // (kiln-gpu-warp-reduce). A tile that is not a multiple of 32 keys keeps
  // one thread per row.
  SmallVector<int64_t> rowReduceThreads = {rowThreads, 0};
  if (keyTile % 32 == 0)
    rowReduceThreads = {0, 32};
  AffineMap rd = dimsMap(ctx, 2, {0, 1});
  Value maxInit = filled({rows}, kNegInf);
  Value sumInit = filled({rows}, 0.0);
  Value accInit = filled({rows, headDim}, 0.0);
  int64_t keyThreads = keyTile;
  auto loop = scf::ForOp::create(
      b, l, keyBegin, keyEnd, indexConst(b, l, keyTile),
      ValueRange{maxInit, sumInit, accInit},
      [&](OpBuilder &lb, Location ll, Value t0, ValueRange iter) {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        Value maxOld = iter[0], sumOld = iter[1], accOld = iter[2];
        // s[r, t] = q[r] . k[t0 + t]. Loops: t d r, rows innermost: a
        // thread loads each element of its key once for all rows (with the
        // rows outside, the unrolled loops keep the whole key row live in
        // registers).
        Value scores = generic(
            qTile, filled({rows, keyTile}, 0.0),
            {dimsMap(ctx, 3, {2, 1}), dimsMap(ctx, 3, {2, 0})},
            {kPar, kRed, kPar}, {keyThreads, 0, 0},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value j = keyRow(nb, nl, t0, 0);
              Value dIdx = linalg::IndexOp::create(nb, nl, 1);
              Value k = tensor::ExtractOp::create(
                  nb, nl, keys, ValueRange{batchIdx, j, kvHead, dIdx});
              Value prod =
                  arith::MulFOp::create(nb, nl, a[0], toF32(nb, nl, k));
              return arith::AddFOp::create(nb, nl, a[1], prod).getResult();
            });
        // m' = max(m, max over visible s).
        Value maxNew = generic(
            ValueRange{scores, posTile, maxOld}, filled({rows}, kNegInf),
            {rt, rOf2, rOf2, rOf2}, {kPar, kRed}, rowReduceThreads,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value s = arith::SelectOp::create(
                  nb, nl, visible(nb, nl, t0, a[1]), a[0],
                  f32Const(nb, nl, kNegInf));
              Value m = arith::MaximumFOp::create(nb, nl, s, a[2]);
              return arith::MaximumFOp::create(nb, nl, a[3], m).getResult();
            });
        // alpha = exp(m - m'), 1 while no key was visible (m = m' = -inf).
        Value alpha = generic(
            ValueRange{maxOld, maxNew}, empty({rows}, f32), {r1, r1, r1},
            {kPar}, {rowThreads}, [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value none = arith::CmpFOp::create(
                  nb, nl, arith::CmpFPredicate::OEQ, a[1],
                  f32Const(nb, nl, kNegInf));
              Value e = math::ExpOp::create(
                  nb, nl, arith::SubFOp::create(nb, nl, a[0], a[1]));
              return arith::SelectOp::create(nb, nl, none,
                                             f32Const(nb, nl, 1.0), e)
                  .getResult();
            });
        // p = exp(s - m') for visible keys, else 0.
        Value probs = generic(
            ValueRange{scores, posTile, maxNew}, empty({rows, keyTile}, f32),
            {rt, rOf2, rOf2, rt}, {kPar, kPar}, {0, keyThreads},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value e = math::ExpOp::create(
                  nb, nl, arith::SubFOp::create(nb, nl, a[0], a[2]));
              return arith::SelectOp::create(nb, nl,
                                             visible(nb, nl, t0, a[1]), e,
                                             f32Const(nb, nl, 0.0))
                  .getResult();
            });
        // l = l alpha + sum p (in place: the loop carries one buffer).
        Value sumScaled = generic(
            alpha, sumOld, {r1, r1}, {kPar}, {rowThreads},
            [](OpBuilder &nb, Location nl, ValueRange a) {
              return arith::MulFOp::create(nb, nl, a[1], a[0]).getResult();
            });
        Value sumNew = generic(
            probs, sumScaled, {rt, rOf2}, {kPar, kRed}, rowReduceThreads,
            [](OpBuilder &nb, Location nl, ValueRange a) {
              return arith::AddFOp::create(nb, nl, a[1], a[0]).getResult();
            });
        // acc = acc alpha + p v. Loops: d t r (each value loaded once).
        Value accScaled = generic(
            alpha, accOld, {rOf2, rd}, {kPar, kPar}, {0, headDimThreads},
            [](OpBuilder &nb, Location nl, ValueRange a) {
              return arith::MulFOp::create(nb, nl, a[1], a[0]).getResult();
            });
        Value accNew = generic(
            probs, accScaled,
            {dimsMap(ctx, 3, {2, 1}), dimsMap(ctx, 3, {2, 0})},
            {kPar, kRed, kPar}, {headDimThreads, 0, 0},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value j = keyRow(nb, nl, t0, 1);
              Value dIdx = linalg::IndexOp::create(nb, nl, 0);
              Value v = tensor::ExtractOp::create(
                  nb, nl, values, ValueRange{batchIdx, j, kvHead, dIdx});
              Value pv =
                  arith::MulFOp::create(nb, nl, a[0], toF32(nb, nl, v));
              return arith::AddFOp::create(nb, nl, a[1], pv).getResult();
            });
        // m = m' (= max(m', m)), into the carried buffer once nothing reads
        // the old m. (A plain copy would be folded away, and the loop would
        // carry a new buffer per step.)
        Value maxCarried = generic(
            maxNew, maxOld, {r1, r1}, {kPar}, {rowThreads},
            [](OpBuilder &nb, Location nl, ValueRange a) {
              return arith::MaximumFOp::create(nb, nl, a[0], a[1]).getResult();
            });
        scf::YieldOp::create(b, ll, ValueRange{maxCarried, sumNew, accNew});
      });

  // The block's partial results, written in place into its slices of the
  // forall's outputs.
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  OpFoldResult qpb = b.getIndexAttr(queriesPerBlock),
               g = b.getIndexAttr(group), d = b.getIndexAttr(headDim);
  SmallVector<OpFoldResult> accOffsets = {batchIdx, splitIdx, firstQuery,
                                          kvHead,   zero,     zero};
  SmallVector<OpFoldResult> accSizes = {one, one, qpb, one, g, d};
  SmallVector<OpFoldResult> accStrides(6, one);
  ArrayRef<OpFoldResult> rowOffsets = ArrayRef(accOffsets).drop_back();
  ArrayRef<OpFoldResult> rowSizes = ArrayRef(accSizes).drop_back();
  ArrayRef<OpFoldResult> rowStrides = ArrayRef(accStrides).drop_back();
  auto accSliceType = RankedTensorType::get({queriesPerBlock, group, headDim},
                                            f32);
  auto rowSliceType = RankedTensorType::get({queriesPerBlock, group}, f32);
  Value outDest = tensor::ExtractSliceOp::create(
      b, l, accSliceType, outParts, accOffsets, accSizes, accStrides);
  Value lseDest = tensor::ExtractSliceOp::create(
      b, l, rowSliceType, lseParts, rowOffsets, rowSizes, rowStrides);
  auto expand = [&](Value v, RankedTensorType type) -> Value {
    SmallVector<ReassociationIndices> reassoc = {{0, 1}};
    if (type.getRank() == 3)
      reassoc.push_back({2});
    return tensor::ExpandShapeOp::create(b, l, type, v, reassoc);
  };
  Value maxFinal = expand(loop.getResult(0), rowSliceType);
  Value sumFinal = expand(loop.getResult(1), rowSliceType);
  Value accFinal = expand(loop.getResult(2), accSliceType);
  // o = acc / l and lse = m + log l; a row that saw no visible key (l = 0)
  // gets o = 0 and lse = -inf, so that the combine weighs it 0.
  AffineMap qgd = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap qg = AffineMap::getMultiDimIdentityMap(2, ctx);
  Value outWritten = generic(
      ValueRange{accFinal, sumFinal}, outDest,
      {qgd, dimsMap(ctx, 3, {0, 1}), qgd}, {kPar, kPar, kPar},
      {0, 0, headDimThreads}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value empty = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ,
                                            a[1], f32Const(nb, nl, 0.0));
        Value o = arith::DivFOp::create(nb, nl, a[0], a[1]);
        return arith::SelectOp::create(nb, nl, empty, f32Const(nb, nl, 0.0),
                                       o)
            .getResult();
      });
  Value lseWritten = generic(
      ValueRange{maxFinal, sumFinal}, lseDest, {qg, qg, qg}, {kPar, kPar},
      {0, groupThreads}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value empty = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ,
                                            a[1], f32Const(nb, nl, 0.0));
        Value lse = arith::AddFOp::create(nb, nl, a[0],
                                          math::LogOp::create(nb, nl, a[1]));
        return arith::SelectOp::create(nb, nl, empty,
                                       f32Const(nb, nl, kNegInf), lse)
            .getResult();
      });

  auto inParallel = scf::InParallelOp::create(b, l);
  b.setInsertionPointToStart(inParallel.getBody());
  tensor::ParallelInsertSliceOp::create(b, l, outWritten, outParts,
                                        accOffsets, accSizes, accStrides);
  tensor::ParallelInsertSliceOp::create(b, l, lseWritten, lseParts,
                                        rowOffsets, rowSizes, rowStrides);
}

struct FlashAttentionPass final
    : kiln::impl::FlashAttentionBase<FlashAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto [name, value] :
         {std::pair<StringRef, int64_t>{"key-tile", keyTile},
          {"rows-per-block", rowsPerBlock}})
      if (value <= 0 || value > kGpuBlockThreads) {
        getOperation()->emitError("kiln-flash-attention: option '")
            << name << "' must be in [1, " << kGpuBlockThreads << "], got "
            << value;
        return signalPassFailure();
      }
    if (keysPerSplit <= 0 || keysPerSplit % keyTile != 0) {
      getOperation()->emitError("kiln-flash-attention: 'keys-per-split' (")
          << int64_t(keysPerSplit)
          << ") must be a positive multiple of 'key-tile' ("
          << int64_t(keyTile) << ")";
      return signalPassFailure();
    }
    SmallVector<llm::AttentionOp> ops;
    getOperation()->walk([&](llm::AttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (llm::AttentionOp op : ops) {
      auto qType = cast<RankedTensorType>(op.getQuery().getType());
      if (qType.isDynamicDim(2) || qType.isDynamicDim(3)) {
        op.emitOpError("kiln-flash-attention needs static head counts and "
                       "head_dim");
        return signalPassFailure();
      }
      Value result = FlashAttentionBuilder(rewriter, op, keyTile, keysPerSplit,
                                           rowsPerBlock)
                         .build();
      rewriter.replaceOp(op, result);
    }
  }
};
} // namespace
