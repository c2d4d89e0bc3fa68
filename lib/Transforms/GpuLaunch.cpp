//===- GpuLaunch.cpp - thread-block foralls to gpu.launch -----------------===//
//
// After bufferization, every scf.forall mapped to #gpu.block becomes a
// gpu.launch: the grid is the forall's trip count, linearized over grid x
// and computed on the host, so dynamic token counts need no static bound;
// the block is as large as the largest thread forall inside. The thread
// foralls are then mapped by the upstream utility
// (mapNestedForallToThreadsImpl), with a barrier after each. Buffers the
// kernel allocates become workgroup attributions (allocated in the block,
// outside thread foralls: shared by its threads) or allocas (inside thread
// foralls: private to a thread).
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/TransformOps/GPUTransformOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_GPULAUNCH
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {
template <typename MappingAttr> bool hasMapping(scf::ForallOp forall) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && !mapping->empty() && isa<MappingAttr>((*mapping)[0]);
}

/// The thread counts a block needs along x, y, z: the largest static trip
/// count of each dimension over the thread foralls inside `block`.
FailureOr<SmallVector<int64_t>> blockDims(scf::ForallOp block) {
  SmallVector<int64_t> dims = {1, 1, 1};
  WalkResult result = block.walk([&](scf::ForallOp forall) {
    if (!hasMapping<gpu::GPUThreadMappingAttr>(forall))
      return WalkResult::advance();
    std::optional<SmallVector<int64_t>> counts =
        getConstantIntValues(forall.getMixedUpperBound());
    if (!counts || !forall.isNormalized()) {
      forall.emitOpError("kiln-gpu-launch: thread foralls need static, "
                         "normalized trip counts");
      return WalkResult::interrupt();
    }
    for (auto [attr, count] : llvm::zip(*forall.getMapping(), *counts)) {
      auto id = static_cast<int64_t>(
          cast<gpu::GPUThreadMappingAttr>(attr).getMappingId());
      if (id > 2) {
        forall.emitOpError("kiln-gpu-launch: only thread x, y, z mappings");
        return WalkResult::interrupt();
      }
      dims[id] = std::max(dims[id], count);
    }
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  if (dims[0] * dims[1] * dims[2] > 1024)
    return block.emitOpError("kiln-gpu-launch: ")
           << dims[0] * dims[1] * dims[2] << " threads per block, more than "
           << "1024";
  return dims;
}

/// Gives `value` and every view of it memory space `space`.
void moveToMemorySpace(Value value, Attribute space) {
  SmallVector<Value> worklist = {value};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    auto type = dyn_cast<MemRefType>(v.getType());
    if (!type || type.getMemorySpace() == space)
      continue;
    v.setType(MemRefType::get(type.getShape(), type.getElementType(),
                              type.getLayout(), space));
    for (Operation *user : v.getUsers())
      if (isa<ViewLikeOpInterface>(user))
        llvm::append_range(worklist, user->getResults());
  }
}

struct GpuLaunchPass final : kiln::impl::GpuLaunchBase<GpuLaunchPass> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    // Bufferization leaves copies of a buffer onto itself where a tile was
    // computed in place: no-ops, but every thread of a block would run them.
    getOperation()->walk([&](linalg::CopyOp copy) {
      if (copy.getInputs().front() == copy.getOutputs().front())
        rewriter.eraseOp(copy);
    });
    // A forall that no GPU level mapped is a grid of one-thread blocks, so
    // that nothing touching device memory stays on the host.
    MLIRContext *ctx = &getContext();
    getOperation()->walk([&](scf::ForallOp forall) {
      if (forall.getMapping() || forall->getParentOfType<scf::ForallOp>() ||
          forall->getParentOfType<gpu::LaunchOp>())
        return;
      SmallVector<Attribute> mapping;
      for (int64_t d = 0, rank = forall.getRank(); d < rank; ++d)
        mapping.push_back(gpu::GPUBlockMappingAttr::get(
            ctx, static_cast<gpu::MappingId>(
                     static_cast<int64_t>(gpu::MappingId::LinearDim0) + rank -
                     1 - d)));
      forall.setMappingAttr(ArrayAttr::get(ctx, mapping));
    });
    SmallVector<scf::ForallOp> blocks;
    getOperation()->walk([&](scf::ForallOp forall) {
      if (hasMapping<gpu::GPUBlockMappingAttr>(forall))
        blocks.push_back(forall);
    });
    for (scf::ForallOp block : blocks)
      if (failed(launch(rewriter, block)))
        return signalPassFailure();
  }

  LogicalResult launch(IRRewriter &rewriter, scf::ForallOp block) {
    if (!block.getResults().empty())
      return block.emitOpError("kiln-gpu-launch runs after bufferization "
                               "(the forall still has tensor results)");
    if (block->getParentOfType<gpu::LaunchOp>() ||
        block->getParentOfType<scf::ForallOp>())
      return block.emitOpError("kiln-gpu-launch: nested thread-block forall");
    FailureOr<SmallVector<int64_t>> dims = blockDims(block);
    if (failed(dims))
      return failure();
    // Code outside the thread foralls runs on every thread: it may compute
    // indices and views, but a write there would race (the barriers come
    // only after thread foralls).
    bool oneThread = (*dims)[0] * (*dims)[1] * (*dims)[2] == 1;
    if (!oneThread) {
      WalkResult writes =
          block.getBody()->walk<WalkOrder::PreOrder>([&](Operation *op) {
            if (auto forall = dyn_cast<scf::ForallOp>(op))
              if (hasMapping<gpu::GPUThreadMappingAttr>(forall))
                return WalkResult::skip();
            auto effects = dyn_cast<MemoryEffectOpInterface>(op);
            if (effects && effects.hasEffect<MemoryEffects::Write>() &&
                !isa<memref::AllocOp, memref::DeallocOp>(op)) {
              op->emitOpError("kiln-gpu-launch: writes memory outside the "
                              "thread foralls of its block (every thread "
                              "would write)");
              return WalkResult::interrupt();
            }
            return WalkResult::advance();
          });
      if (writes.wasInterrupted())
        return failure();
    }
    Location loc = block.getLoc();
    rewriter.setInsertionPoint(block);

    // Trip counts, in the order of linear_dim_0 (innermost) outwards.
    auto mapping = *block.getMapping();
    int64_t rank = block.getRank();
    SmallVector<OpFoldResult> lbs = block.getMixedLowerBound(),
                              ubs = block.getMixedUpperBound(),
                              steps = block.getMixedStep();
    SmallVector<Value> tripCounts(rank);
    SmallVector<int64_t> linearDim(rank);
    AffineExpr s0, s1, s2;
    bindSymbols(rewriter.getContext(), s0, s1, s2);
    for (int64_t d = 0; d < rank; ++d) {
      auto attr = cast<gpu::GPUBlockMappingAttr>(mapping[d]);
      int64_t id = attr.getMappingId();
      int64_t linear0 = static_cast<int64_t>(gpu::MappingId::LinearDim0);
      linearDim[d] = id >= linear0 ? id - linear0 : id;
      // From 0 by a constant step: an unsigned ceildiv, which the launch
      // plan evaluates on the host (lower-affine would expand an affine
      // ceildiv into signed compares and selects).
      std::optional<int64_t> lb = getConstantIntValue(lbs[d]);
      std::optional<int64_t> step = getConstantIntValue(steps[d]);
      if (lb && *lb == 0 && step && *step > 1 && !getConstantIntValue(ubs[d])) {
        tripCounts[d] = arith::CeilDivUIOp::create(
            rewriter, loc,
            getValueOrCreateConstantIndexOp(rewriter, loc, ubs[d]),
            arith::ConstantIndexOp::create(rewriter, loc, *step));
        continue;
      }
      tripCounts[d] = getValueOrCreateConstantIndexOp(
          rewriter, loc,
          affine::makeComposedFoldedAffineApply(rewriter, loc,
                                                (s1 - s0).ceilDiv(s2),
                                                {lbs[d], ubs[d], steps[d]}));
    }
    SmallVector<int64_t> order(rank); // forall dims, linear_dim_0 first
    for (int64_t d = 0; d < rank; ++d)
      order[d] = d;
    llvm::sort(order, [&](int64_t a, int64_t b) {
      return linearDim[a] < linearDim[b];
    });
    Value grid = arith::ConstantIndexOp::create(rewriter, loc, 1);
    for (int64_t d : order)
      grid = arith::MulIOp::create(rewriter, loc, grid, tripCounts[d]);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto launchOp = gpu::LaunchOp::create(
        rewriter, loc, grid, one, one,
        arith::ConstantIndexOp::create(rewriter, loc, (*dims)[0]),
        arith::ConstantIndexOp::create(rewriter, loc, (*dims)[1]),
        arith::ConstantIndexOp::create(rewriter, loc, (*dims)[2]));

    // The body: block ids delinearized into the forall's induction vars.
    Block &body = launchOp.getBody().front();
    rewriter.setInsertionPointToStart(&body);
    Value linear = launchOp.getBlockIds().x;
    SmallVector<Value> ivs(rank);
    for (int64_t d : order) {
      Value index =
          arith::RemUIOp::create(rewriter, loc, linear, tripCounts[d]);
      linear = arith::DivUIOp::create(rewriter, loc, linear, tripCounts[d]);
      ivs[d] = getValueOrCreateConstantIndexOp(
          rewriter, loc,
          affine::makeComposedFoldedAffineApply(rewriter, loc, s0 + s1 * s2,
                                                {lbs[d], index, steps[d]}));
    }
    Operation *terminator =
        body.empty() || !isa<gpu::TerminatorOp>(body.back())
            ? gpu::TerminatorOp::create(rewriter, loc).getOperation()
            : &body.back();
    Block *forallBody = block.getBody();
    rewriter.eraseOp(forallBody->getTerminator()); // scf.forall.in_parallel
    rewriter.inlineBlockBefore(forallBody, terminator, ivs);
    rewriter.eraseOp(block);

    // Buffers of the kernel: shared by the block or private to a thread.
    Attribute workgroup = gpu::AddressSpaceAttr::get(
        rewriter.getContext(), gpu::AddressSpace::Workgroup);
    SmallVector<memref::AllocOp> allocs;
    launchOp.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    for (memref::AllocOp alloc : allocs) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape())
        return alloc.emitOpError("kiln-gpu-launch: a kernel cannot allocate "
                                 "a dynamically sized buffer (")
               << type << ")";
      bool inThread = false;
      for (auto f = alloc->getParentOfType<scf::ForallOp>(); f;
           f = f->getParentOfType<scf::ForallOp>())
        inThread |= hasMapping<gpu::GPUThreadMappingAttr>(f);
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          rewriter.eraseOp(user);
      rewriter.setInsertionPoint(alloc);
      if (inThread) {
        rewriter.replaceOpWithNewOp<memref::AllocaOp>(alloc, type);
        continue;
      }
      auto shared = MemRefType::get(type.getShape(), type.getElementType(),
                                    type.getLayout(), workgroup);
      BlockArgument attribution =
          launchOp.addWorkgroupAttribution(shared, alloc.getLoc());
      Value result = alloc.getResult();
      moveToMemorySpace(result, workgroup);
      rewriter.replaceAllUsesWith(result, attribution);
      rewriter.eraseOp(alloc);
    }

    // Threads: the upstream mapping, a barrier after each thread forall.
    DiagnosedSilenceableFailure mapped =
        transform::gpu::mapNestedForallToThreadsImpl(
            rewriter, std::nullopt, launchOp, *dims, /*warpSize=*/32,
            /*syncAfterDistribute=*/true);
    if (!mapped.succeeded()) {
      (void)mapped.silence();
      return launchOp.emitOpError("kiln-gpu-launch: cannot map the thread "
                                  "foralls of this block");
    }
    // The mapping may leave index constants after the terminator when a
    // thread forall ends the block.
    Block &launchBody = launchOp.getBody().front();
    for (Operation &op : llvm::make_early_inc_range(launchBody))
      if (isa<gpu::TerminatorOp>(op) && &op != &launchBody.back())
        op.moveBefore(&launchBody, launchBody.end());
    return success();
  }
};
} // namespace
