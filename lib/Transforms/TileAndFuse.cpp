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

    scf::SCFTilingOptions tilingOptions;
    SmallVector<OpFoldResult> tileSizes =
        getAsIndexOpFoldResult(&getContext(), sizes);
    tilingOptions.setTileSizes(tileSizes);
    tilingOptions.setLoopType(lvl == Level::Distribute
                                  ? scf::SCFTilingOptions::LoopType::ForallOp
                                  : scf::SCFTilingOptions::LoopType::ForOp);

    scf::SCFTileAndFuseOptions options;
    options.setTilingOptions(tilingOptions);
    options.setFusionControlFn(
        [lvl](tensor::ExtractSliceOp, OpResult producer, bool isDestination)
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
