//===- GpuWarpReduce.cpp - merge a warp's partial results with shuffles ---===//
//
// kiln-tile-and-fuse splits a reduction across the 32 lanes of a warp
// (decode GEMVs, RMSNorm's row sums, the argmax, the softmax's row maximum
// and sum in flash attention): each lane reduces its share into a [.., 32]
// buffer of partials in shared memory, and a forall then merges each row's
// 32 partials one after another, one thread per row. This pass turns that
// merge into butterflies of warp shuffles: lane l loads partial l, five
// `gpu.shuffle xor` steps (16, 8, 4, 2, 1) leave the total in every lane,
// and lane 0 combines it with the output's initial value. With several rows
// each warp (up to kGpuBlockThreads / 32 of them) merges every W-th row.
// Runs on memrefs, before kiln-gpu-launch maps the foralls to threads.
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
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln {
#define GEN_PASS_DEF_GPUWARPREDUCE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr int64_t kWarpSize = 32;

/// A merge of warps' partials: a forall of `rows` threads, each holding an
/// optional fill of its output and a generic that reduces 32 partials into
/// one element with a single commutative combiner (views of the partials
/// and the output may depend on the thread's row).
struct WarpMerge {
  scf::ForallOp forall;
  linalg::FillOp fill; // may be null: the output keeps its value
  linalg::GenericOp generic;
  Operation *combiner;
  unsigned laneLoop;
  int64_t rows;
};

/// The combiners whose order does not matter (up to rounding), so that a
/// butterfly may replace the in-order loop.
bool isCommutativeCombiner(Operation *op) {
  return isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp,
             arith::MaxNumFOp, arith::MinNumFOp, arith::AddIOp,
             arith::MaxSIOp, arith::MinSIOp, arith::MaxUIOp, arith::MinUIOp>(
      op);
}

/// Whether `v` is computed inside `forall`'s body from its index.
bool dependsOnRow(Value v, scf::ForallOp forall) {
  Value iv = forall.getInductionVars()[0];
  SmallVector<Value> worklist = {v};
  while (!worklist.empty()) {
    Value cur = worklist.pop_back_val();
    if (cur == iv)
      return true;
    Operation *def = cur.getDefiningOp();
    if (!def || def->getBlock() != forall.getBody())
      continue;
    llvm::append_range(worklist, def->getOperands());
  }
  return false;
}

std::optional<WarpMerge> matchWarpMerge(scf::ForallOp forall) {
  if (!isThreadForall(forall) || forall.getRank() != 1 ||
      !forall.getOutputs().empty())
    return std::nullopt;
  std::optional<int64_t> count =
      getConstantIntValue(forall.getMixedUpperBound()[0]);
  if (!count || *count < 1 || !forall.isNormalized())
    return std::nullopt;
  WarpMerge merge{forall, nullptr, nullptr, nullptr, 0, *count};
  for (Operation &op : forall.getBody()->without_terminator()) {
    if (auto copy = dyn_cast<linalg::CopyOp>(op);
        copy && copy.getInputs().front() == copy.getOutputs().front())
      continue; // a no-op that kiln-gpu-launch erases
    if (auto fill = dyn_cast<linalg::FillOp>(op); fill && !merge.fill &&
                                                  !merge.generic) {
      merge.fill = fill;
      continue;
    }
    // Views of the row's partials and output (subviews, reshapes: all
    // pure) and index arithmetic are recomputed per row.
    if (isPure(&op)) {
      if (merge.generic)
        return std::nullopt;
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
  // Several rows must merge different partials into different outputs:
  // both are views computed in the body from the row index.
  if (merge.rows > 1 && (!dependsOnRow(generic.getDpsInputs()[0], forall) ||
                         !dependsOnRow(output, forall)))
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

/// One row's merge by the warp of `lane`: the views of the old forall's
/// body for row `row`, a butterfly over the 32 partials, and lane 0's store.
void mergeRow(OpBuilder &b, Location l, WarpMerge merge, Value row,
              Value lane) {
  linalg::GenericOp generic = merge.generic;
  IRMapping rowMap;
  rowMap.map(merge.forall.getInductionVars()[0], row);
  for (Operation &op : merge.forall.getBody()->without_terminator()) {
    if (&op == merge.generic.getOperation())
      break;
    if (isa<linalg::FillOp, linalg::CopyOp>(op))
      continue;
    b.clone(op, rowMap);
  }
  Value partials = rowMap.lookupOrDefault(generic.getDpsInputs()[0]);
  Value output = rowMap.lookupOrDefault(generic.getDpsInits()[0]);
  AffineMap inMap = generic.getIndexingMapsArray()[0];
  AffineMap outMap = generic.getIndexingMapsArray()[1];
  Value v = memref::LoadOp::create(
      b, l, partials, indicesOf(b, l, inMap, merge.laneLoop, lane));
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value other = gpu::ShuffleOp::create(b, l, v, offset, kWarpSize,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    v = combine(b, merge.combiner, v, other);
  }
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value first =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, lane, zero);
  scf::IfOp::create(b, l, first, [&](OpBuilder &tb, Location tl) {
    SmallVector<Value> at = indicesOf(tb, tl, outMap, merge.laneLoop, zero);
    Value init = merge.fill
                     ? rowMap.lookupOrDefault(merge.fill.getInputs()[0])
                     : memref::LoadOp::create(tb, tl, output, at).getResult();
    memref::StoreOp::create(tb, tl, combine(tb, merge.combiner, v, init),
                            output, at);
    scf::YieldOp::create(tb, tl);
  });
}

void rewrite(RewriterBase &rewriter, WarpMerge merge) {
  Location loc = merge.generic.getLoc();
  // One warp per row, as many warps as a block holds; a warp takes every
  // W-th row (the trip count is the same for all lanes of a warp, so they
  // all reach every shuffle).
  int64_t warps = std::min(merge.rows, kGpuBlockThreads / kWarpSize);
  rewriter.setInsertionPoint(merge.forall);
  scf::ForallOp::create(
      rewriter, loc,
      ArrayRef<OpFoldResult>{rewriter.getIndexAttr(warps * kWarpSize)},
      ValueRange{}, merge.forall.getMapping(),
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        if (merge.rows == 1) {
          mergeRow(b, l, merge, arith::ConstantIndexOp::create(b, l, 0),
                   ivs[0]);
        } else {
          Value width = arith::ConstantIndexOp::create(b, l, kWarpSize);
          Value warp = arith::DivUIOp::create(b, l, ivs[0], width);
          Value lane = arith::RemUIOp::create(b, l, ivs[0], width);
          scf::ForOp::create(
              b, l, warp, arith::ConstantIndexOp::create(b, l, merge.rows),
              arith::ConstantIndexOp::create(b, l, warps), ValueRange{},
              [&](OpBuilder &fb, Location fl, Value row, ValueRange) {
                mergeRow(fb, fl, merge, row, lane);
                scf::YieldOp::create(fb, fl);
              });
        }
        scf::InParallelOp::create(b, l);
      });
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
