//===- GpuPipeline.cpp - multi-buffered, software-pipelined K loops -------===//
//
// A prefill GEMM block (kiln-gpu-promote-operands) loops over K: copy the
// A and B tiles into shared memory, wait, multiply, wait. With one buffer
// per tile the copies and the multiply alternate and the SM idles on
// global-memory latency. Here each tile gets `stages` buffers and the loop
// issues the copies `stages - 1` iterations ahead of the multiply (upstream
// memref::multiBuffer and scf::pipelineForLoop, with Kiln's schedule: the
// copies and what they need are stage 0, everything else the last stage).
// The copies become cp.async later (kiln-gpu-async-copy); the commit and
// wait groups that make them visible are placed here, where the number of
// groups in flight is known.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_GPUPIPELINE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
/// The async copies of a thread forall (llm.async_copy generics).
SmallVector<linalg::GenericOp> asyncCopies(Operation *forall) {
  SmallVector<linalg::GenericOp> copies;
  forall->walk([&](linalg::GenericOp generic) {
    if (generic->hasAttr(kAsyncCopyAttrName))
      copies.push_back(generic);
  });
  return copies;
}

/// The allocation a memref value views, if any.
memref::AllocOp viewedAlloc(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto alloc = dyn_cast<memref::AllocOp>(def))
      return alloc;
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return {};
    v = view.getViewSource();
  }
  return {};
}

/// Gives the views of `value` (whose type changed: a multi-buffered tile's
/// stage is a strided view with a dynamic offset) the types that follow
/// from it; upstream multiBuffer updates only subviews.
LogicalResult propagateViewTypes(Value value) {
  for (Operation *user : value.getUsers()) {
    Value result;
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(user)) {
      result = collapse.getResult();
      result.setType(memref::CollapseShapeOp::computeCollapsedType(
          collapse.getSrcType(), collapse.getReassociationIndices()));
    } else if (auto expand = dyn_cast<memref::ExpandShapeOp>(user)) {
      FailureOr<MemRefType> type = memref::ExpandShapeOp::computeExpandedType(
          expand.getSrcType(), expand.getResultType().getShape(),
          expand.getReassociationIndices());
      if (failed(type))
        return expand.emitOpError("kiln-gpu-pipeline: cannot expand a "
                                  "multi-buffered tile");
      result = expand.getResult();
      result.setType(*type);
    } else if (auto subview = dyn_cast<memref::SubViewOp>(user)) {
      if (subview.getSource() != value)
        continue;
      result = subview.getResult();
      result.setType(memref::SubViewOp::inferRankReducedResultType(
          subview.getType().getShape(), subview.getSourceType(),
          subview.getMixedOffsets(), subview.getMixedSizes(),
          subview.getMixedStrides()));
    } else if (auto cast = dyn_cast<memref::CastOp>(user)) {
      return cast.emitOpError("kiln-gpu-pipeline: a cast of a shared tile");
    } else {
      continue; // an access: its result does not depend on the layout
    }
    if (failed(propagateViewTypes(result)))
      return failure();
  }
  return success();
}

/// A K loop to pipeline: its copy foralls and the allocations they fill.
struct KLoop {
  scf::ForOp loop;
  SmallVector<Operation *> copyForalls;
  SmallVector<memref::AllocOp> tiles;
};

std::optional<KLoop> matchKLoop(scf::ForOp loop) {
  if (!insideBlockForall(loop))
    return std::nullopt;
  KLoop k{loop, {}, {}};
  bool computes = false;
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (!isThreadForall(&op))
      continue;
    SmallVector<linalg::GenericOp> copies = asyncCopies(&op);
    if (copies.empty()) {
      computes = true;
      continue;
    }
    if (computes)
      return std::nullopt; // copies after the compute: not this shape
    k.copyForalls.push_back(&op);
    for (linalg::GenericOp copy : copies) {
      memref::AllocOp alloc = viewedAlloc(copy.getDpsInits()[0]);
      if (!alloc || alloc->getBlock() != loop.getBody() ||
          !alloc.getType().hasStaticShape() || alloc->getNumOperands() != 0)
        return std::nullopt;
      if (!llvm::is_contained(k.tiles, alloc))
        k.tiles.push_back(alloc);
    }
  }
  if (k.copyForalls.empty() || !computes)
    return std::nullopt;
  return k;
}

struct GpuPipelinePass final : kiln::impl::GpuPipelineBase<GpuPipelinePass> {
  using Base::Base;

  void runOnOperation() override {
    if (stages < 1) {
      getOperation()->emitError("kiln-gpu-pipeline: 'stages' must be at "
                                "least 1, got ")
          << int64_t(stages);
      return signalPassFailure();
    }
    SmallVector<KLoop> loops;
    getOperation()->walk([&](scf::ForOp loop) {
      if (std::optional<KLoop> k = matchKLoop(loop))
        loops.push_back(*k);
    });
    for (KLoop &k : loops)
      if (failed(pipeline(k)))
        return signalPassFailure();
  }

  /// The compute reads the stage the copies of the same iteration wrote;
  /// pipelined, that is a value of an earlier iteration, which
  /// scf::pipelineForLoop would carry through the loop as a memref argument
  /// (opaque to the swizzle's subview folding). Instead the compute gets its
  /// own copy of the stage's view, computed from its own iteration.
  LogicalResult recomputeForCompute(RewriterBase &rewriter, KLoop &k,
                                    memref::SubViewOp stage) {
    Block *body = k.loop.getBody();
    for (OpOperand &use : llvm::make_early_inc_range(stage->getUses())) {
      Operation *top = body->findAncestorOpInBlock(*use.getOwner());
      if (!top || llvm::is_contained(k.copyForalls, top))
        continue;
      // The view and the ops of the body it needs, cloned before the user.
      SetVector<Operation *> slice;
      SmallVector<Operation *> worklist = {stage};
      while (!worklist.empty()) {
        Operation *op = worklist.pop_back_val();
        if (!slice.insert(op))
          continue;
        for (Value operand : op->getOperands())
          if (Operation *def = operand.getDefiningOp())
            if (def->getBlock() == body)
              worklist.push_back(def);
      }
      SmallVector<Operation *> ordered(slice.begin(), slice.end());
      llvm::sort(ordered, [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
      IRMapping map;
      rewriter.setInsertionPoint(top);
      for (Operation *op : ordered)
        rewriter.clone(*op, map);
      use.set(map.lookup(stage.getResult()));
    }
    return success();
  }

  LogicalResult pipeline(KLoop &k) {
    IRRewriter rewriter(&getContext());
    scf::ForOp loop = k.loop;
    // The tiles live across iterations now: allocated once, before the loop.
    for (memref::AllocOp alloc : k.tiles)
      rewriter.moveOpBefore(alloc, loop);

    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound());
    std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound());
    std::optional<int64_t> step = getConstantIntValue(loop.getStep());
    std::optional<int64_t> trips;
    if (lb && ub && step && *step > 0)
      trips = *ub > *lb ? llvm::divideCeil(*ub - *lb, *step) : 0;
    if (trips && *trips == 0)
      return success(); // no step: nothing to pipeline or wait for
    int64_t depth = stages;
    if (trips)
      depth = std::min<int64_t>(depth, *trips);
    else
      depth = 1; // the schedule peels iterations: static trip counts only

    if (depth >= 2) {
      for (memref::AllocOp alloc : k.tiles) {
        FailureOr<memref::AllocOp> buffers = memref::multiBuffer(
            rewriter, alloc, depth, /*skipOverrideAnalysis=*/true);
        if (failed(buffers))
          return loop.emitOpError("kiln-gpu-pipeline: cannot give a shared "
                                  "tile ")
                 << depth << " buffers";
        for (Operation *user : buffers->getResult().getUsers())
          if (auto stage = dyn_cast<memref::SubViewOp>(user))
            if (failed(propagateViewTypes(stage.getResult())) ||
                failed(recomputeForCompute(rewriter, k, stage)))
              return failure();
      }
    }

    // Commit the iteration's copies; wait for the oldest group and make it
    // visible to every thread before the compute.
    Operation *commit = nullptr;
    Location loc = loop.getLoc();
    if (async) {
      rewriter.setInsertionPointAfter(k.copyForalls.back());
      commit = NVVM::CpAsyncCommitGroupOp::create(rewriter, loc);
      Operation *compute = nullptr;
      for (Operation &op : loop.getBody()->without_terminator())
        if (isThreadForall(&op) && !llvm::is_contained(k.copyForalls, &op)) {
          compute = &op;
          break;
        }
      rewriter.setInsertionPoint(compute);
      NVVM::CpAsyncWaitGroupOp::create(rewriter, loc,
                                       static_cast<uint32_t>(depth - 1));
      gpu::BarrierOp::create(rewriter, loc);
    }
    if (depth < 2)
      return success();

    // Stage 0: the copies, the commit and every op of the body they need;
    // the last stage: the rest (the compute and the views it reads).
    llvm::SmallPtrSet<Operation *, 16> first;
    SmallVector<Operation *> worklist(k.copyForalls.begin(),
                                      k.copyForalls.end());
    if (commit)
      worklist.push_back(commit);
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      if (!first.insert(op).second)
        continue;
      op->walk([&](Operation *nested) {
        for (Value operand : nested->getOperands())
          if (Operation *def = operand.getDefiningOp())
            if (def->getBlock() == loop.getBody())
              worklist.push_back(def);
      });
    }
    unsigned last = depth - 1;
    scf::PipeliningOption options;
    options.getScheduleFn =
        [&](scf::ForOp forOp,
            std::vector<std::pair<Operation *, unsigned>> &schedule) {
          for (Operation &op : forOp.getBody()->without_terminator())
            if (first.contains(&op))
              schedule.push_back({&op, 0});
          for (Operation &op : forOp.getBody()->without_terminator())
            if (!first.contains(&op))
              schedule.push_back({&op, last});
        };
    // The epilogue issues no copies: wait for all of them.
    options.annotateFn = [&](Operation *op,
                             scf::PipeliningOption::PipelinerPart part,
                             unsigned) {
      if (auto waitOp = dyn_cast<NVVM::CpAsyncWaitGroupOp>(op))
        if (part == scf::PipeliningOption::PipelinerPart::Epilogue)
          waitOp.setN(0);
    };
    options.peelEpilogue = true;
    rewriter.setInsertionPoint(loop); // the prologue goes before the loop
    FailureOr<scf::ForOp> pipelined =
        scf::pipelineForLoop(rewriter, loop, options);
    if (failed(pipelined))
      return loop.emitOpError("kiln-gpu-pipeline: scf::pipelineForLoop "
                              "failed with ")
             << depth << " stages";
    return success();
  }
};
} // namespace
