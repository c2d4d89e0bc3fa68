//===- TileAndFuse.cpp - tile root ops and fuse their producers -----------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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
enum class Level { Distribute, Vector };

bool isElementwise(linalg::LinalgOp op) {
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

struct TileAndFusePass final : kiln::impl::TileAndFuseBase<TileAndFusePass> {
  using Base::Base;

  void runOnOperation() override {
    Level lvl;
    if (level == "distribute")
      lvl = Level::Distribute;
    else if (level == "vector")
      lvl = Level::Vector;
    else {
      getOperation()->emitError("kiln-tile-and-fuse: unknown level '")
          << level << "' (expected 'distribute' or 'vector')";
      return signalPassFailure();
    }

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

  LogicalResult tileRoot(RewriterBase &rewriter, linalg::LinalgOp root,
                         Level lvl) {
    llm::LoweringConfigAttr config = getLoweringConfig(root);
    if (failed(verifyLoweringConfig(root, config)))
      return failure();
    ArrayRef<int64_t> sizes =
        lvl == Level::Distribute ? config.getDistribute() : config.getVector();
    if (sizes.empty() || llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
      return success();
    if (!root.hasPureTensorSemantics())
      return root->emitOpError("kiln-tile-and-fuse expects tensor semantics");

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
    tilingOptions.setTileSizes(tileSizes);
    tilingOptions.setLoopType(lvl == Level::Distribute
                                  ? scf::SCFTilingOptions::LoopType::ForallOp
                                  : scf::SCFTilingOptions::LoopType::ForOp);

    SmallVector<bool> tiledLoops;
    for (int64_t size : rootSizes)
      tiledLoops.push_back(size != 0);

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
          if (getLoweringConfig(producerOp))
            return std::nullopt;
          if (recomputedPerTile(slice, tiledLoops))
            return std::nullopt;
          // Under a tiled reduction only pure inputs may be recomputed.
          if (isDestination || !isElementwise(producerOp))
            return std::nullopt;
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        });

    rewriter.setInsertionPoint(root);
    FailureOr<scf::SCFTileAndFuseResult> result =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(root.getOperation()), options);
    if (failed(result))
      return root->emitOpError("failed to tile with lowering_config ")
             << config;

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
