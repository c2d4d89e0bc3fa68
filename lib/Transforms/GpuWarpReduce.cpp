//===- GpuWarpReduce.cpp - merge a warp's partial results with shuffles ---===//
//
// kiln-tile-and-fuse splits a reduction across the 32 lanes of a warp
// (decode GEMVs, RMSNorm's row sums): each lane reduces its share into a
// [.., 32] buffer of partials in shared memory, and a one-thread forall then
// adds the 32 partials one after another. This pass turns that merge into a
// butterfly of warp shuffles: lane l loads partial l, five `gpu.shuffle
// xor` steps (16, 8, 4, 2, 1) leave the total in every lane, and lane 0
// combines it with the output's initial value. Runs on memrefs, before
// kiln-gpu-launch maps the foralls to threads.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_GPUWARPREDUCE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr int64_t kWarpSize = 32;

/// A merge of a warp's partials: a one-thread forall holding an optional
/// fill of the output and a generic that reduces 32 partials into one
/// element with a single commutative combiner.
struct WarpMerge {
  scf::ForallOp forall;
  linalg::FillOp fill; // may be null: the output keeps its value
  linalg::GenericOp generic;
  Operation *combiner;
  unsigned laneLoop;
};

/// The combiners whose order does not matter (up to rounding), so that a
/// butterfly may replace the in-order loop.
bool isCommutativeCombiner(Operation *op) {
  return isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp,
             arith::MaxNumFOp, arith::MinNumFOp, arith::AddIOp,
             arith::MaxSIOp, arith::MinSIOp, arith::MaxUIOp, arith::MinUIOp>(
      op);
}

std::optional<WarpMerge> matchWarpMerge(scf::ForallOp forall) {
  if (!isThreadForall(forall) || forall.getRank() != 1 ||
      !forall.getOutputs().empty())
    return std::nullopt;
  std::optional<int64_t> count =
      getConstantIntValue(forall.getMixedUpperBound()[0]);
  if (!count || *count != 1 || !forall.isNormalized())
    return std::nullopt;
  WarpMerge merge{forall, nullptr, nullptr, nullptr, 0};
  for (Operation &op : forall.getBody()->without_terminator()) {
    if (auto copy = dyn_cast<linalg::CopyOp>(op);
        copy && copy.getInputs().front() == copy.getOutputs().front())
      continue; // a no-op that kiln-gpu-launch erases
    if (auto fill = dyn_cast<linalg::FillOp>(op); fill && !merge.fill &&
                                                  !merge.generic) {
      merge.fill = fill;
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (!generic || merge.generic)
      return std::nullopt;
    merge.generic = generic;
  }
  linalg::GenericOp generic = merge.generic;
  if (!generic || !generic.hasPureBufferSemantics() ||
      generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumReductionLoops() != 1)
    return std::nullopt;
  Value output = generic.getDpsInits()[0];
  if (merge.fill && merge.fill.getOutputs()[0] != output)
    return std::nullopt;
  for (auto [i, range] : llvm::enumerate(generic.getStaticLoopRanges())) {
    if (generic.getIteratorTypesArray()[i] == utils::IteratorType::reduction) {
      if (range != kWarpSize)
        return std::nullopt;
      merge.laneLoop = i;
    } else if (range != 1) {
      return std::nullopt;
    }
  }
  for (AffineMap map : generic.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  // The body: yield combiner(in, out).
  Block *body = generic.getBody();
  if (body->getOperations().size() != 2)
    return std::nullopt;
  Operation *combiner = &body->front();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (!isCommutativeCombiner(combiner) ||
      yield.getValues() != ValueRange(combiner->getResults()))
    return std::nullopt;
  SmallVector<Value> args(body->getArguments());
  if (!((combiner->getOperand(0) == args[0] &&
         combiner->getOperand(1) == args[1]) ||
        (combiner->getOperand(0) == args[1] &&
         combiner->getOperand(1) == args[0])))
    return std::nullopt;
  Type type = args[0].getType();
  if (!type.isF32() && !type.isInteger(32))
    return std::nullopt; // what a 32-bit shuffle moves
  merge.combiner = combiner;
  return merge;
}

Value combine(OpBuilder &b, Operation *combiner, Value x, Value y) {
  IRMapping map;
  map.map(combiner->getOperand(0), x);
  map.map(combiner->getOperand(1), y);
  return b.clone(*combiner, map)->getResult(0);
}

/// Indices of `memref` through `map` with the lane loop at `lane` and every
/// other loop at 0.
SmallVector<Value> indicesOf(OpBuilder &b, Location loc, AffineMap map,
                             unsigned laneLoop, Value lane) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults())
    indices.push_back(cast<AffineDimExpr>(e).getPosition() == laneLoop ? lane
                                                                       : zero);
  return indices;
}

void rewrite(RewriterBase &rewriter, WarpMerge merge) {
  linalg::GenericOp generic = merge.generic;
  Location loc = generic.getLoc();
  Value partials = generic.getDpsInputs()[0];
  Value output = generic.getDpsInits()[0];
  AffineMap inMap = generic.getIndexingMapsArray()[0];
  AffineMap outMap = generic.getIndexingMapsArray()[1];
  rewriter.setInsertionPoint(merge.forall);
  auto lanes = scf::ForallOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(kWarpSize)},
      ValueRange{}, merge.forall.getMapping(),
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        Value lane = ivs[0];
        Value v = memref::LoadOp::create(
            b, l, partials, indicesOf(b, l, inMap, merge.laneLoop, lane));
        for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
          Value other =
              gpu::ShuffleOp::create(b, l, v, offset, kWarpSize,
                                     gpu::ShuffleMode::XOR)
                  .getShuffleResult();
          v = combine(b, merge.combiner, v, other);
        }
        Value zero = arith::ConstantIndexOp::create(b, l, 0);
        Value first =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, lane, zero);
        scf::IfOp::create(b, l, first, [&](OpBuilder &tb, Location tl) {
          SmallVector<Value> at = indicesOf(tb, tl, outMap, merge.laneLoop,
                                            zero);
          Value init = merge.fill ? merge.fill.getInputs()[0]
                                  : memref::LoadOp::create(tb, tl, output, at)
                                        .getResult();
          memref::StoreOp::create(tb, tl, combine(tb, merge.combiner, v, init),
                                  output, at);
          scf::YieldOp::create(tb, tl);
        });
        scf::InParallelOp::create(b, l);
      });
  (void)lanes;
  rewriter.eraseOp(merge.forall);
}

struct GpuWarpReducePass final
    : kiln::impl::GpuWarpReduceBase<GpuWarpReducePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<WarpMerge> merges;
    getOperation()->walk([&](scf::ForallOp forall) {
      if (std::optional<WarpMerge> merge = matchWarpMerge(forall))
        merges.push_back(*merge);
    });
    IRRewriter rewriter(&getContext());
    for (WarpMerge &merge : merges)
      rewrite(rewriter, merge);
  }
};
} // namespace
