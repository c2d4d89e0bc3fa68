//===- TileAndFuse.cpp - tile root ops and fuse their producers -----------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_TILEANDFUSE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
enum class Level { Distribute, Vector, Thread };

bool isAllParallelProjection(linalg::LinalgOp op) {
  return op.getNumLoops() == op.getNumParallelLoops() &&
         llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
           return map.isProjectedPermutation();
         });
}

/// Whether fusing the producer of `slice` into the tiled consumer that reads
/// it would recompute the producer for every tile: the consumer reads the
/// slice through an indexing map that ignores a tiled loop (e.g. the
/// activation operand of a matmul under tiles of the output columns). Such
/// producers stay outside: a silu fused into a down projection would be
/// evaluated once per 8 output columns.
bool recomputedPerTile(tensor::ExtractSliceOp slice,
                       ArrayRef<bool> tiledLoops) {
  for (OpOperand &use : slice->getUses()) {
    auto consumer = dyn_cast<linalg::LinalgOp>(use.getOwner());
    if (!consumer || consumer.getNumLoops() != tiledLoops.size())
      continue;
    AffineMap map = consumer.getMatchingIndexingMap(&use);
    for (auto [loop, tiled] : llvm::enumerate(tiledLoops))
      if (tiled &&
          consumer.getIteratorTypesArray()[loop] ==
              utils::IteratorType::parallel &&
          !map.isFunctionOfDim(loop))
        return true;
  }
  return false;
}

/// Lanes of the partial sums of a split contraction: one 512-bit or two
/// 256-bit f32 vectors.
constexpr int64_t kPartialReductionLanes = 16;

/// A contraction whose reductions are all static, tiled at the vector level
/// and multiples of kPartialReductionLanes.
bool isPartialReductionCandidate(linalg::LinalgOp op, ArrayRef<int64_t> sizes) {
  if (!isa<linalg::ContractOp, linalg::MatmulOp>(op.getOperation()))
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  bool any = false;
  for (auto [i, iter] : llvm::enumerate(op.getIteratorTypesArray())) {
    if (iter != utils::IteratorType::reduction)
      continue;
    if (ShapedType::isDynamic(ranges[i]) || sizes[i] == 0 ||
        ranges[i] % kPartialReductionLanes != 0)
      return false;
    any = true;
  }
  return any;
}

/// GPU mapping attributes for the tiled loops of a forall, innermost tiled
/// loop first on x (threads) or linear_dim_0 (blocks, which kiln-gpu-launch
/// linearizes over the grid).
SmallVector<Attribute> gpuMapping(MLIRContext *ctx, int64_t numTiled,
                                  bool blocks) {
  SmallVector<Attribute> mapping(numTiled);
  for (int64_t k = 0; k < numTiled; ++k) {
    int64_t dim = numTiled - 1 - k; // innermost first
    if (blocks)
      mapping[k] = gpu::GPUBlockMappingAttr::get(
          ctx, static_cast<gpu::MappingId>(
                   static_cast<uint64_t>(gpu::MappingId::LinearDim0) + dim));
    else
      mapping[k] =
          gpu::GPUThreadMappingAttr::get(ctx, static_cast<gpu::MappingId>(dim));
  }
  return mapping;
}

/// Threads for an op of a block that no root's thread tiling fused: up to
/// kGpuBlockThreads on its innermost static parallel loop, else 32 on a
/// long static reduction (partial sums merged after), else one thread.
SmallVector<int64_t> fallbackThreads(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  SmallVector<int64_t> threads(ranges.size(), 0);
  int64_t firstParallel = -1;
  for (int64_t i = ranges.size() - 1; i >= 0; --i) {
    if (iters[i] != utils::IteratorType::parallel)
      continue;
    firstParallel = i;
    if (!ShapedType::isDynamic(ranges[i]) && ranges[i] > 1) {
      threads[i] = std::min(ranges[i], kGpuBlockThreads);
      return threads;
    }
  }
  // No parallel loop to share out (a row sum of one row, say): a static
  // reduction long enough is split over a warp instead, partials merged.
  for (int64_t i = ranges.size() - 1; i >= 0; --i)
    if (iters[i] == utils::IteratorType::reduction &&
        !ShapedType::isDynamic(ranges[i]) && ranges[i] >= 64 &&
        ranges[i] % 32 == 0 && isa<PartialReductionOpInterface>(*op)) {
      threads.assign(ranges.size(), 0);
      threads[i] = 32;
      return threads;
    }
  if (firstParallel >= 0)
    threads[firstParallel] = 1;
  return threads;
}

struct TileAndFusePass final : kiln::impl::TileAndFuseBase<TileAndFusePass> {
  using Base::Base;

  void runOnOperation() override {
    Level lvl;
    if (level == "distribute")
      lvl = Level::Distribute;
    else if (level == "vector")
      lvl = Level::Vector;
    else if (level == "thread")
      lvl = Level::Thread;
    else {
      getOperation()->emitError("kiln-tile-and-fuse: unknown level '")
          << level << "' (expected 'distribute', 'vector' or 'thread')";
      return signalPassFailure();
    }
    if (lvl == Level::Thread)
      return runThreadLevel();

    // Consumers first, so that producers are fused before they would be
    // tiled on their own.
    SmallVector<linalg::LinalgOp> roots;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (getLoweringConfig(op) &&
          (lvl == Level::Vector || isDistributionRoot(op)))
        roots.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp root : llvm::reverse(roots)) {
      if (failed(tileRoot(rewriter, root, lvl)))
        return signalPassFailure();
    }
  }

  /// Splits every thread block (a forall mapped to #gpu.block) among
  /// threads: roots by their config's `threads`, fusing the producers that
  /// each thread can compute for its own tile; then every other linalg op
  /// left in the block by fallbackThreads, so that nothing runs redundantly
  /// on all threads.
  void runThreadLevel() {
    SmallVector<linalg::LinalgOp> roots;
    getOperation()->walk([&](linalg::LinalgOp op) {
      llm::LoweringConfigAttr config = getLoweringConfig(op);
      if (config && !config.getThreads().empty() && insideBlockForall(op) &&
          !insideThreadForall(op))
        roots.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp root : llvm::reverse(roots))
      if (failed(tileRoot(rewriter, root, Level::Thread)))
        return signalPassFailure();
    // One at a time, last first: tiling an op may fuse (and erase) others.
    // Each round puts one op into a thread forall; a bound guards against
    // an op that tiling leaves where it was.
    for (int64_t round = 0;; ++round) {
      linalg::LinalgOp last;
      getOperation()->walk([&](linalg::LinalgOp op) {
        if (insideBlockForall(op) && !insideThreadForall(op))
          last = op;
      });
      if (!last)
        return;
      if (round > 100000) {
        last->emitOpError("kiln-tile-and-fuse: cannot put this op on "
                          "threads");
        return signalPassFailure();
      }
      // Without a loop to share out (an op with no loops, or one whose only
      // reduction cannot be split) tiling would leave the op in place.
      SmallVector<int64_t> threads = fallbackThreads(last);
      if (llvm::all_of(threads, [](int64_t n) { return n == 0; })) {
        last->emitOpError("kiln-tile-and-fuse: cannot split this op among "
                          "threads (no parallel loop, and no static "
                          "reduction that is a multiple of 32)");
        return signalPassFailure();
      }
      if (failed(tileRoot(rewriter, last, Level::Thread, threads)))
        return signalPassFailure();
    }
  }

  static bool splitsReduction(linalg::LinalgOp op, ArrayRef<int64_t> threads) {
    for (auto [n, iter] : llvm::zip(threads, op.getIteratorTypesArray()))
      if (n != 0 && iter == utils::IteratorType::reduction)
        return true;
    return false;
  }

  static unsigned reductionLoop(linalg::LinalgOp op) {
    SmallVector<unsigned> dims;
    op.getReductionDims(dims);
    return dims.front();
  }

  /// upstream splitReduction (innerParallel) turns reduction loop `r` into
  /// loops r (outer, reduced) and r + 1 (the lanes) but moves the body
  /// unchanged, so its `linalg.index` ops would still name the old loops
  /// (an argmax would report positions within a lane's chunk). Rewrites
  /// them to the original iteration space: index(r) = outer * lanes + lane,
  /// later loops shift by one.
  static void remapIndicesAfterSplit(RewriterBase &rewriter,
                                     linalg::LinalgOp split, unsigned r,
                                     int64_t lanes) {
    SmallVector<linalg::IndexOp> indices;
    split->walk([&](linalg::IndexOp index) { indices.push_back(index); });
    for (linalg::IndexOp index : indices) {
      uint64_t dim = index.getDim();
      Location loc = index.getLoc();
      rewriter.setInsertionPoint(index);
      if (dim < r)
        continue;
      if (dim > r) {
        rewriter.replaceOpWithNewOp<linalg::IndexOp>(index, dim + 1);
        continue;
      }
      Value outer = linalg::IndexOp::create(rewriter, loc, r);
      Value lane = linalg::IndexOp::create(rewriter, loc, r + 1);
      Value width = arith::ConstantIndexOp::create(rewriter, loc, lanes);
      Value scaled = arith::MulIOp::create(rewriter, loc, outer, width);
      rewriter.replaceOpWithNewOp<arith::AddIOp>(index, scaled, lane);
    }
  }

  /// Threads on a reduction loop of extent R: the loop is split into
  /// R / threads iterations of `threads` lanes (upstream splitReduction,
  /// inner parallel: lane l reduces elements l, l + threads, ..., so that
  /// consecutive threads read consecutive elements) into a [..., threads]
  /// partial tensor (shared memory once bufferized), and the lanes are
  /// tiled across threads; the op combining the partials with the initial
  /// value stays in the block, where the fallback puts it on one thread per
  /// row (kiln-gpu-warp-reduce turns that into warp shuffles).
  LogicalResult splitReductionAcrossThreads(RewriterBase &rewriter,
                                            linalg::LinalgOp root,
                                            ArrayRef<int64_t> threads) {
    int64_t lanes = 0;
    for (int64_t n : threads)
      lanes = std::max(lanes, n);
    unsigned outputRank = root.getNumParallelLoops();
    unsigned reduction = reductionLoop(root);
    Location loc = root.getLoc();
    rewriter.setInsertionPoint(root);
    FailureOr<linalg::SplitReductionResult> split =
        linalg::splitReduction(rewriter, root, [&](linalg::LinalgOp) {
          return linalg::SplitReductionOptions{lanes, outputRank,
                                               /*innerParallel=*/true};
        });
    if (failed(split))
      return root->emitOpError("failed to split its reduction across ")
             << lanes << " threads";
    // The lanes are the loop right after the (now outer) reduction loop;
    // the block's other parallel loops (rows of a flash-attention tile,
    // say) stay whole in each lane. `root` is gone from here on.
    linalg::LinalgOp partial = split->splitLinalgOp;
    remapIndicesAfterSplit(rewriter, partial, reduction, lanes);
    SmallVector<int64_t> laneThreads(partial.getNumLoops(), 0);
    unsigned laneLoop = reduction + 1;
    if (laneLoop >= laneThreads.size() ||
        partial.getIteratorTypesArray()[laneLoop] !=
            utils::IteratorType::parallel ||
        partial.getStaticLoopRanges()[laneLoop] != lanes)
      return emitError(loc, "kiln-tile-and-fuse: the split reduction has no "
                            "lane loop of ")
             << lanes << " after loop " << reduction;
    laneThreads[laneLoop] = lanes;
    return tileRoot(rewriter, partial, Level::Thread, laneThreads);
  }

  LogicalResult tileRoot(RewriterBase &rewriter, linalg::LinalgOp root,
                         Level lvl, ArrayRef<int64_t> fallback = {}) {
    llm::LoweringConfigAttr config = getLoweringConfig(root);
    if (config && failed(verifyLoweringConfig(root, config)))
      return failure();
    ArrayRef<int64_t> sizes = !fallback.empty() ? fallback
                              : lvl == Level::Distribute
                                  ? config.getDistribute()
                              : lvl == Level::Thread ? config.getThreads()
                                                     : config.getVector();
    if (sizes.empty() || llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
      return success();
    if (!root.hasPureTensorSemantics())
      return root->emitOpError("kiln-tile-and-fuse expects tensor semantics");
    if (lvl == Level::Thread && splitsReduction(root, sizes))
      return splitReductionAcrossThreads(rewriter, root, sizes);

    // A contraction whose reductions are tiled at the vector level keeps its
    // whole reduction here and is split below instead: partial sums along
    // the reduction stay in vector lanes (FMAs), reduced once at the end.
    SmallVector<int64_t> rootSizes(sizes);
    SmallVector<int64_t> partialSizes;
    if (lvl == Level::Vector && isPartialReductionCandidate(root, sizes)) {
      partialSizes.assign(sizes.size(), 0);
      for (auto [i, iter] : llvm::enumerate(root.getIteratorTypesArray()))
        if (iter == utils::IteratorType::reduction) {
          partialSizes[i] = kPartialReductionLanes;
          rootSizes[i] = 0;
        }
    }

    scf::SCFTilingOptions tilingOptions;
    SmallVector<OpFoldResult> tileSizes =
        getAsIndexOpFoldResult(&getContext(), rootSizes);
    if (lvl == Level::Thread)
      tilingOptions.setNumThreads(tileSizes);
    else
      tilingOptions.setTileSizes(tileSizes);
    tilingOptions.setLoopType(lvl == Level::Vector
                                  ? scf::SCFTilingOptions::LoopType::ForOp
                                  : scf::SCFTilingOptions::LoopType::ForallOp);

    SmallVector<bool> tiledLoops;
    for (int64_t size : rootSizes)
      tiledLoops.push_back(size != 0);
    int64_t numTiled = llvm::count(tiledLoops, true);
    // GPU configs (those with `threads`) map the block level to #gpu.block.
    bool gpuBlocks =
        lvl == Level::Distribute && config && !config.getThreads().empty();
    if (lvl == Level::Thread || gpuBlocks)
      tilingOptions.setMapping(
          gpuMapping(&getContext(), numTiled, /*blocks=*/gpuBlocks));

    scf::SCFTileAndFuseOptions options;
    options.setTilingOptions(tilingOptions);
    options.setFusionControlFn(
        [lvl, tiledLoops](tensor::ExtractSliceOp slice, OpResult producer,
                          bool isDestination)
            -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          auto producerOp = dyn_cast<linalg::LinalgOp>(producer.getOwner());
          if (!producerOp)
            return std::nullopt;
          if (lvl == Level::Distribute) {
            if (isDistributionRoot(producerOp))
              return std::nullopt;
            return scf::SCFTileAndFuseOptions::ControlFnResult{};
          }
          if (lvl == Level::Thread) {
            // Reductions are whole inside a thread, so destinations (the
            // fill of an accumulator) fuse too; what other threads need
            // stays in the block.
            if (getLoweringConfig(producerOp) ||
                recomputedPerTile(slice, tiledLoops))
              return std::nullopt;
            return scf::SCFTileAndFuseOptions::ControlFnResult{};
          }
          if (getLoweringConfig(producerOp))
            return std::nullopt;
          if (recomputedPerTile(slice, tiledLoops))
            return std::nullopt;
          // Under a tiled reduction only pure inputs may be recomputed.
          if (isDestination || !isAllParallelProjection(producerOp))
            return std::nullopt;
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        });

    rewriter.setInsertionPoint(root);
    FailureOr<scf::SCFTileAndFuseResult> result =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(root.getOperation()), options);
    if (failed(result)) {
      if (!config)
        return root->emitOpError("failed to split among threads");
      return root->emitOpError("failed to tile with lowering_config ")
             << config;
    }

    for (OpResult res : root->getResults()) {
      auto it = result->replacements.find(res);
      if (it != result->replacements.end())
        rewriter.replaceAllUsesWith(res, it->second);
    }
    if (!partialSizes.empty()) {
      Operation *tiledRoot = nullptr;
      for (Operation *op : result->tiledAndFusedOps)
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
          if (getLoweringConfig(linalgOp))
            tiledRoot = op;
      auto partial = dyn_cast_or_null<PartialReductionOpInterface>(tiledRoot);
      if (!partial)
        return root->emitOpError("tiled contraction cannot be split");
      rewriter.setInsertionPoint(tiledRoot);
      FailureOr<scf::SCFTilingResult> split = scf::tileReductionUsingScf(
          rewriter, partial,
          getAsIndexOpFoldResult(&getContext(), partialSizes));
      if (failed(split))
        return root->emitOpError("failed to split the reduction");
      rewriter.replaceOp(tiledRoot, split->replacements);
    }
    // The original root and the producers fused into it are dead now.
    SmallVector<Operation *> worklist = {root.getOperation()};
    llvm::append_range(worklist, result->fusedProducers);
    bool erased = true;
    while (erased) {
      erased = false;
      for (Operation *&op : worklist) {
        if (op && op->use_empty()) {
          rewriter.eraseOp(op);
          op = nullptr;
          erased = true;
        }
      }
    }
    return success();
  }
};
} // namespace
