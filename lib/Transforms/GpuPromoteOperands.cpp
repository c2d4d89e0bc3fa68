//===- GpuPromoteOperands.cpp - GEMM tiles through shared memory ----------===//
//
// After kiln-tile-and-fuse's distribute level, a prefill GEMM's thread
// block holds one contraction over a [tokens, features] tile and the whole
// reduction K, which its threads would read from global memory, each its
// own rows. This pass restructures such a contraction for the thread level:
//
//   acc = fill (a static [tokens, features] tile: shared memory)
//   for k0 in 0..K step k-tile:
//     a = A[tokens, k0 : k0 + k-tile]     -> static tile (shared memory)
//     b = B[features, k0 : k0 + k-tile]   -> static tile (shared memory)
//     acc += a b^T                        (the contraction, on the tiles)
//   output tile = acc
//
// The copies into the static tiles ("promotion") are linalg ops of their
// own with a `threads` lowering config, so the thread level makes each a
// thread forall in which consecutive threads read consecutive elements of a
// row (coalesced), and kiln-gpu-launch puts a barrier after each. A tile
// whose token count is dynamic (the block at the end of the sequence) is
// padded with zeros up to its static bound, found by upstream value-bounds
// analysis. Only contractions with their own lowering config (roots) whose
// threads split parallel loops, and whose one reduction is static and a
// multiple of k-tile, are rewritten.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"

namespace kiln {
#define GEN_PASS_DEF_GPUPROMOTEOPERANDS
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// The reduction loop of a contraction this pass rewrites, or -1.
int64_t promotableReduction(linalg::LinalgOp op, int64_t kTile) {
  if (!isa<linalg::ContractOp, linalg::MatmulOp>(op.getOperation()) ||
      !op.hasPureTensorSemantics() || !insideBlockForall(op) ||
      insideThreadForall(op))
    return -1;
  llm::LoweringConfigAttr config = getLoweringConfig(op);
  if (!config || config.getThreads().empty())
    return -1;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t reduction = -1;
  for (auto [i, iter] : llvm::enumerate(iters)) {
    if (iter != utils::IteratorType::reduction)
      continue;
    if (reduction >= 0)
      return -1; // one reduction loop only
    reduction = i;
  }
  if (reduction < 0 || config.getThreads()[reduction] != 0 ||
      ShapedType::isDynamic(ranges[reduction]) ||
      ranges[reduction] % kTile != 0 || ranges[reduction] <= kTile)
    return -1;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return -1;
  return reduction;
}

/// Threads for a copy into a static tile: up to 32 along the innermost
/// dimension (consecutive threads, consecutive elements), the rest of a
/// block of kGpuBlockThreads along the one before.
SmallVector<int64_t> copyThreads(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> threads(shape.size(), 0);
  int64_t rank = shape.size();
  if (rank == 0)
    return threads;
  threads[rank - 1] = std::min<int64_t>(shape[rank - 1], 32);
  if (rank >= 2)
    threads[rank - 2] = std::max<int64_t>(
        1, std::min(shape[rank - 2], kGpuBlockThreads / threads[rank - 1]));
  return threads;
}

class Promoter {
public:
  Promoter(RewriterBase &rewriter, int64_t kTile, int64_t copyBytes)
      : b(rewriter), kTile(kTile), copyBytes(copyBytes) {}

  LogicalResult run(linalg::LinalgOp op, int64_t reduction);

private:
  /// The static upper bound of every dimension of `v` (a tile), or failure.
  FailureOr<SmallVector<int64_t>> staticBounds(Value v);
  /// `slice` copied into a static tile (padded with zeros past its dynamic
  /// sizes), returned as a slice of that tile with `slice`'s sizes.
  /// `slice` copied into a static tile (zero past its dynamic sizes): the
  /// tile, or with `sliced` a slice of it with `slice`'s sizes.
  FailureOr<Value> promote(Location loc, Value slice, bool sliced);

  RewriterBase &b;
  int64_t kTile;
  int64_t copyBytes;
};

FailureOr<SmallVector<int64_t>> Promoter::staticBounds(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t i = 0, e = type.getRank(); i < e; ++i) {
    if (!type.isDynamicDim(i))
      continue;
    FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
        presburger::BoundType::UB, {v, i}, /*stopCondition=*/nullptr,
        /*closedUB=*/true);
    if (failed(ub) || *ub <= 0)
      return failure();
    shape[i] = *ub;
  }
  return shape;
}

FailureOr<Value> Promoter::promote(Location loc, Value slice, bool sliced) {
  FailureOr<SmallVector<int64_t>> shape = staticBounds(slice);
  if (failed(shape))
    return failure();
  auto type = cast<RankedTensorType>(slice.getType());
  Type elementType = type.getElementType();
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < rank; ++i)
    sizes.push_back(type.isDynamicDim(i)
                        ? Value(tensor::DimOp::create(b, loc, slice, i))
                        : Value());
  int64_t elements = 1;
  for (int64_t size : *shape)
    elements *= size;

  // The copy's iteration space: the tile itself, or, where the tile is a
  // whole number of warps' vectors of `copy-bytes`, its flat elements as
  // [vectors per thread and row of threads, 32 threads, one vector] (rows of
  // the tile follow one another), so that each thread copies whole vectors
  // of a row (one cp.async each, kiln-gpu-async-copy) and a warp's vectors
  // are consecutive.
  int64_t bits = elementType.getIntOrFloatBitWidth();
  int64_t vector =
      bits % 8 == 0 && (8 * copyBytes) % bits == 0 ? 8 * copyBytes / bits : 0;
  bool vectorized = vector > 0 && shape->back() % vector == 0 &&
                    elements % (32 * vector) == 0;
  SmallVector<int64_t> space(*shape);
  SmallVector<int64_t> threads = copyThreads(*shape);
  if (vectorized) {
    int64_t rows = elements / (32 * vector);
    int64_t threadRows = std::min(rows, kGpuBlockThreads / 32);
    while (rows % threadRows != 0)
      --threadRows;
    space = {rows, 32, vector};
    threads = {threadRows, 32, 0};
  }
  int64_t spaceRank = space.size();

  Value empty = tensor::EmptyOp::create(b, loc, space, elementType);
  AffineMap id = AffineMap::getMultiDimIdentityMap(spaceRank, ctx);
  auto copy = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{}, ValueRange{empty},
      ArrayRef<AffineMap>{id},
      SmallVector<utils::IteratorType>(spaceRank,
                                       utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange) {
        auto constant = [&](int64_t v) -> Value {
          return arith::ConstantIndexOp::create(nb, l, v);
        };
        // The tile's indices: the iteration indices, or those of the flat
        // offset (i0 * 32 + i1) * vector + i2.
        SmallVector<Value> tileIndices;
        if (vectorized) {
          Value flat = arith::AddIOp::create(
              nb, l,
              arith::MulIOp::create(
                  nb, l,
                  arith::AddIOp::create(
                      nb, l,
                      arith::MulIOp::create(nb, l,
                                            linalg::IndexOp::create(nb, l, 0),
                                            constant(32)),
                      linalg::IndexOp::create(nb, l, 1)),
                  constant(vector)),
              linalg::IndexOp::create(nb, l, 2));
          tileIndices.resize(rank);
          for (int64_t i = rank - 1; i >= 0; --i) {
            tileIndices[i] =
                i == 0
                    ? flat
                    : arith::RemUIOp::create(nb, l, flat, constant((*shape)[i]))
                          .getResult();
            if (i > 0)
              flat = arith::DivUIOp::create(nb, l, flat, constant((*shape)[i]));
          }
        } else {
          for (int64_t i = 0; i < rank; ++i)
            tileIndices.push_back(linalg::IndexOp::create(nb, l, i));
        }
        SmallVector<Value> indices;
        Value valid;
        for (int64_t i = 0; i < rank; ++i) {
          Value idx = tileIndices[i];
          if (sizes[i]) {
            // Past a dynamic size: zero, read from a clamped (valid) row.
            Value inside = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ult, idx, sizes[i]);
            valid =
                valid ? arith::AndIOp::create(nb, l, valid, inside).getResult()
                      : inside;
            Value last = arith::SubIOp::create(nb, l, sizes[i], constant(1));
            idx = arith::MinUIOp::create(nb, l, idx, last);
          }
          indices.push_back(idx);
        }
        Value v = tensor::ExtractOp::create(nb, l, slice, indices);
        if (valid)
          v = arith::SelectOp::create(
              nb, l, valid, v,
              arith::ConstantOp::create(nb, l, nb.getZeroAttr(elementType)));
        linalg::YieldOp::create(nb, l, v);
      });
  copy->setAttr(llm::LoweringConfigAttr::getAttrName(),
                llm::LoweringConfigAttr::get(ctx, {}, {}, threads));
  if (vectorized)
    copy->setAttr(kAsyncCopyAttrName, UnitAttr::get(ctx));
  Value tile = copy.getResult(0);
  if (vectorized) {
    // [rows, 32, vector] -> [elements] -> the tile's shape (views once
    // bufferized).
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, tile, SmallVector<ReassociationIndices>{{0, 1, 2}});
    ReassociationIndices all;
    for (int64_t i = 0; i < rank; ++i)
      all.push_back(i);
    tile = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(*shape, elementType), flat,
        SmallVector<ReassociationIndices>{all});
  }
  if (type.hasStaticShape() || !sliced)
    return tile;
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
      strides(rank, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, tile, offsets,
                                        tensor::getMixedSizes(b, loc, slice),
                                        strides)
      .getResult();
}

LogicalResult Promoter::run(linalg::LinalgOp op, int64_t reduction) {
  Location loc = op.getLoc();
  Value init = op.getDpsInits()[0];
  auto initType = cast<RankedTensorType>(init.getType());
  FailureOr<SmallVector<int64_t>> accShape = staticBounds(init);
  if (failed(accShape))
    return op->emitOpError("kiln-gpu-promote-operands: no static bound for "
                           "the tile ")
           << initType;

  // The accumulator: a whole static tile, zero (or the fill's value) or a
  // copy of the initial value; the block's part of it is copied out after
  // the K loop.
  b.setInsertionPoint(op);
  Value dest = init;
  Value acc;
  if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
    dest = fill.getOutputs()[0];
    Value empty =
        tensor::EmptyOp::create(b, loc, *accShape, initType.getElementType());
    acc =
        linalg::FillOp::create(b, loc, fill.getInputs()[0], empty).getResult(0);
  } else {
    FailureOr<Value> promoted = promote(loc, init, /*sliced=*/false);
    if (failed(promoted))
      return op->emitOpError("kiln-gpu-promote-operands: cannot stage the "
                             "accumulator");
    acc = *promoted;
  }

  // The K loop: each step stages its slices of the operands in static
  // tiles (tokens past the block's count are zero) and contracts the whole
  // tiles into the accumulator, its iteration argument. Computing on the
  // padding rows of the last block keeps every shape static (the tensor
  // cores need it) and adds zeros only.
  int64_t kSize = op.getStaticLoopRanges()[reduction];
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, kSize);
  Value step = arith::ConstantIndexOp::create(b, loc, kTile);
  auto loop = scf::ForOp::create(b, loc, lb, ub, step, ValueRange{acc});
  b.setInsertionPointToStart(loop.getBody());
  Value k = loop.getInductionVar();
  LogicalResult status = success();
  SmallVector<Value> operands;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    Value value = input->get();
    auto type = cast<RankedTensorType>(value.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value);
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    for (int64_t d = 0, e = map.getNumResults(); d < e; ++d)
      if (map.getResult(d) == b.getAffineDimExpr(reduction)) {
        offsets[d] = k;
        sizes[d] = b.getIndexAttr(kTile);
      }
    Value slice =
        tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
    FailureOr<Value> promoted = promote(loc, slice, /*sliced=*/false);
    if (failed(promoted)) {
      status = failure();
      break;
    }
    operands.push_back(*promoted);
  }
  if (succeeded(status)) {
    operands.push_back(loop.getRegionIterArgs()[0]);
    Operation *stepOp = clone(b, op, TypeRange{acc.getType()}, operands);
    scf::YieldOp::create(b, loc, stepOp->getResult(0));
  }
  if (failed(status))
    return op->emitOpError("kiln-gpu-promote-operands: no static bound for "
                           "an operand tile");

  // The block's part of the accumulated tile into the block's output.
  b.setInsertionPointAfter(loop);
  Value result = loop.getResult(0);
  if (!initType.hasStaticShape()) {
    int64_t rank = initType.getRank();
    result = tensor::ExtractSliceOp::create(
        b, loc, result, SmallVector<OpFoldResult>(rank, b.getIndexAttr(0)),
        tensor::getMixedSizes(b, loc, init),
        SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
  }
  Value out = linalg::CopyOp::create(b, loc, result, dest).getResult(0);
  b.replaceOp(op, out);
  return success();
}

struct GpuPromoteOperandsPass final
    : kiln::impl::GpuPromoteOperandsBase<GpuPromoteOperandsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (copyBytes != 4 && copyBytes != 8 && copyBytes != 16) {
      getOperation()->emitError("kiln-gpu-promote-operands: 'copy-bytes' "
                                "must be 4, 8 or 16, got ")
          << int64_t(copyBytes);
      return signalPassFailure();
    }
    if (kTile < 1) {
      getOperation()->emitError("kiln-gpu-promote-operands: 'k-tile' must "
                                "be at least 1, got ")
          << int64_t(kTile);
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::LinalgOp, int64_t>> ops;
    getOperation()->walk([&](linalg::LinalgOp op) {
      int64_t reduction = promotableReduction(op, kTile);
      if (reduction >= 0)
        ops.push_back({op, reduction});
    });
    IRRewriter rewriter(&getContext());
    Promoter promoter(rewriter, kTile, copyBytes);
    for (auto [op, reduction] : ops)
      if (failed(promoter.run(op, reduction)))
        return signalPassFailure();
  }
};
} // namespace
