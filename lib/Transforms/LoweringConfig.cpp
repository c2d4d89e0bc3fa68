//===- LoweringConfig.cpp - reading and choosing tile sizes ---------------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace kiln;

llm::LoweringConfigAttr kiln::getLoweringConfig(Operation *op) {
  return op->getAttrOfType<llm::LoweringConfigAttr>(
      llm::LoweringConfigAttr::getAttrName());
}

bool kiln::isDistributionRoot(Operation *op) {
  llm::LoweringConfigAttr config = getLoweringConfig(op);
  return config && !config.getDistribute().empty();
}

namespace {
/// The largest divisor of `extent` that is at most `limit`.
int64_t divisorAtMost(int64_t extent, int64_t limit) {
  for (int64_t t = std::min(extent, limit); t > 1; --t)
    if (extent % t == 0)
      return t;
  return 1;
}

/// The CPU heuristic's outer-level sizes for `op` as a root: rows of tokens
/// in blocks of 8, one head/batch at a time, and for matmul groups blocks of
/// at most 64 output features so that a block of weights is reused by all
/// the tokens of the tile.
SmallVector<int64_t> cpuDistributeSizes(linalg::LinalgOp op, bool hasMatmul) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  int64_t numLoops = ranges.size();
  int64_t lastParallel = -1, innermostDynamicParallel = -1;
  for (int64_t i = 0; i < numLoops; ++i) {
    if (iters[i] != utils::IteratorType::parallel)
      continue;
    lastParallel = i;
    if (ShapedType::isDynamic(ranges[i]))
      innermostDynamicParallel = i;
  }
  SmallVector<int64_t> distribute(numLoops, 0);
  for (int64_t i = 0; i < numLoops; ++i) {
    if (iters[i] != utils::IteratorType::parallel)
      continue;
    if (ShapedType::isDynamic(ranges[i]))
      distribute[i] = i == innermostDynamicParallel ? 8 : 1;
    else if (i == lastParallel)
      distribute[i] = hasMatmul ? divisorAtMost(ranges[i], 64) : 0;
    else
      distribute[i] = 1;
  }
  return distribute;
}

/// Whether fusing the producer of `use` into its user's outer-level tile
/// would recompute the producer for every tile: the user reads it through an
/// indexing map that ignores a loop that its distribution splits. The
/// activations of a matmul are such an operand under tiles of its output
/// features: a silu fused into the down projection (and the gate and up
/// projections fused into the silu) would be evaluated once per 64 output
/// features. The user's sizes are its pinned ones or the heuristic's as a
/// root; only a contraction is assumed to tile its output features (an
/// epilogue's matmul would have to be looked up through its producers,
/// which include this one).
bool recomputedPerDistributedTile(OpOperand &use) {
  auto user = cast<linalg::LinalgOp>(use.getOwner());
  SmallVector<int64_t> sizes;
  if (isDistributionRoot(user))
    llvm::append_range(sizes, getLoweringConfig(user).getDistribute());
  else
    sizes = cpuDistributeSizes(
        user, isa<linalg::MatmulOp, linalg::ContractOp>(user.getOperation()));
  SmallVector<int64_t> ranges = user.getStaticLoopRanges();
  AffineMap map = user.getMatchingIndexingMap(&use);
  for (auto [loop, size] : llvm::enumerate(sizes)) {
    bool split = size != 0 &&
                 (ShapedType::isDynamic(ranges[loop]) || size < ranges[loop]);
    if (split && !map.isFunctionOfDim(loop))
      return true;
  }
  return false;
}
} // namespace

bool kiln::isFusedIntoConsumers(linalg::LinalgOp op) {
  if (isa<linalg::FillOp>(op.getOperation()))
    return true;
  if (isDistributionRoot(op))
    return false;
  if (op->getNumResults() != 1 || op->getResult(0).use_empty())
    return false;
  bool allLinalgUsers =
      llvm::all_of(op->getResult(0).getUsers(), [&](Operation *user) {
        return isa<linalg::LinalgOp>(user) &&
               user->getBlock() == op->getBlock();
      });
  if (!allLinalgUsers)
    return false;
  if (llvm::any_of(op->getResult(0).getUses(), recomputedPerDistributedTile))
    return false;
  return op->getResult(0).hasOneUse() ||
         op->hasAttr(kFuseIntoConsumersAttrName);
}

namespace {
/// Whether the fusion group rooted at `op` contains a matmul or contraction.
bool groupHasMatmul(linalg::LinalgOp op) {
  if (isa<linalg::MatmulOp, linalg::ContractOp>(op.getOperation()))
    return true;
  for (Value operand : op->getOperands()) {
    auto producer = operand.getDefiningOp<linalg::LinalgOp>();
    if (producer && isFusedIntoConsumers(producer) && groupHasMatmul(producer))
      return true;
  }
  return false;
}
} // namespace

llm::LoweringConfigAttr kiln::chooseCpuLoweringConfig(linalg::LinalgOp op,
                                                      bool isRoot) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  int64_t numLoops = ranges.size();
  int64_t lastParallel = -1;
  for (int64_t i = 0; i < numLoops; ++i)
    if (iters[i] == utils::IteratorType::parallel)
      lastParallel = i;

  // Outer level.
  SmallVector<int64_t> distribute = cpuDistributeSizes(op, groupHasMatmul(op));

  // Inner level: static tiles, at most 8 wide on the innermost parallel loop
  // and 64 deep on static reductions. If a loop cannot be made static, the
  // op is left to loops rather than tiled pointlessly.
  SmallVector<int64_t> vector(numLoops, 0);
  bool allStatic = true;
  for (int64_t i = 0; i < numLoops; ++i) {
    int64_t extent = distribute[i] ? distribute[i] : ranges[i];
    // A distributed dynamic loop has a dynamic tile too (the last one is
    // partial), so only tile size 1 makes it static.
    bool dynamic = ShapedType::isDynamic(ranges[i]);
    if (iters[i] == utils::IteratorType::parallel) {
      if (dynamic) {
        vector[i] = 1;
      } else if (i == lastParallel) {
        vector[i] = divisorAtMost(extent, 8);
      } else {
        vector[i] = 1;
      }
    } else if (dynamic) {
      allStatic = false;
    } else {
      vector[i] = divisorAtMost(extent, 64);
    }
  }
  if (!allStatic)
    vector.assign(numLoops, 0);
  // An op fused into its consumer's distributed tile keeps only its own
  // inner tiling; the consumer's outer tile is the same shape by construction
  // (both pick the same blocks of the shared loops).
  if (!isRoot)
    distribute.clear();
  return llm::LoweringConfigAttr::get(op->getContext(), distribute, vector);
}

int64_t kiln::gpuGemvReduction(linalg::LinalgOp op) {
  if (!isa<linalg::ContractOp, linalg::MatmulOp>(op.getOperation()))
    return -1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  int64_t dynamicParallel = 0, reduction = -1;
  for (int64_t i = 0, e = ranges.size(); i < e; ++i) {
    if (iters[i] == utils::IteratorType::parallel)
      dynamicParallel += ShapedType::isDynamic(ranges[i]);
    else if (!ShapedType::isDynamic(ranges[i]) && ranges[i] % 32 == 0 &&
             ranges[i] >= 64)
      reduction = i;
  }
  return dynamicParallel <= 1 ? reduction : -1;
}

std::optional<GpuGemmLoops> kiln::gpuGemmLoops(linalg::LinalgOp op) {
  if (!isa<linalg::ContractOp, linalg::MatmulOp>(op.getOperation()) ||
      op.getNumReductionLoops() != 1 || gpuGemvReduction(op) >= 0)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  GpuGemmLoops loops{-1, -1, -1};
  for (int64_t i = 0, e = ranges.size(); i < e; ++i)
    if (iters[i] == utils::IteratorType::parallel &&
        !ShapedType::isDynamic(ranges[i]) && ranges[i] > 1)
      loops.features = i;
  for (int64_t i = 0, e = ranges.size(); i < e; ++i) {
    if (iters[i] == utils::IteratorType::reduction)
      loops.reduction = i;
    else if (ShapedType::isDynamic(ranges[i]) && i < loops.features)
      loops.tokens = i; // the innermost dynamic parallel loop
  }
  if (loops.features < 0 || loops.tokens < 0 ||
      ShapedType::isDynamic(ranges[loops.reduction]) ||
      ranges[loops.reduction] % 32 != 0 || ranges[loops.reduction] < 64 ||
      ranges[loops.features] % 32 != 0)
    return std::nullopt;
  return loops;
}

llm::LoweringConfigAttr kiln::chooseGpuLoweringConfig(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  int64_t numLoops = ranges.size();

  // A decode-step GEMV reads each weight once: one output per block, its
  // reduction split over a warp, so that 32 threads share the row's loads
  // instead of one thread walking it.
  if (int64_t reduction = gpuGemvReduction(op); reduction >= 0) {
    SmallVector<int64_t> distribute(numLoops, 0), threads(numLoops, 0);
    for (int64_t i = 0; i < numLoops; ++i)
      if (iters[i] == utils::IteratorType::parallel)
        distribute[i] = 1;
    threads[reduction] = 32;
    return llm::LoweringConfigAttr::get(op->getContext(), distribute,
                                        /*vector=*/{}, threads);
  }
  int64_t lastStaticParallel = -1;
  for (int64_t i = 0; i < numLoops; ++i)
    if (iters[i] == utils::IteratorType::parallel &&
        !ShapedType::isDynamic(ranges[i]) && ranges[i] > 1)
      lastStaticParallel = i;

  // A prefill GEMM (tokens x features over a static K): blocks of
  // kGpuGemmTokens tokens x up to 64 features, so that each weight element a
  // block stages in shared memory (kiln-gpu-promote-operands) serves
  // kGpuGemmTokens tokens; 4 x 32 threads, each 8 tokens x 2 features.
  if (std::optional<GpuGemmLoops> gemm = gpuGemmLoops(op)) {
    SmallVector<int64_t> distribute(numLoops, 0), threads(numLoops, 0);
    for (int64_t i = 0; i < numLoops; ++i)
      if (iters[i] == utils::IteratorType::parallel)
        distribute[i] = 1;
    int64_t tileN = ranges[gemm->features] % 64 == 0 ? 64 : 32;
    distribute[gemm->tokens] = kGpuGemmTokens;
    distribute[gemm->features] = tileN;
    threads[gemm->tokens] = 4;
    threads[gemm->features] = tileN / 2;
    return llm::LoweringConfigAttr::get(op->getContext(), distribute,
                                        /*vector=*/{}, threads);
  }
  SmallVector<int64_t> distribute(numLoops, 0), threads(numLoops, 0);
  for (int64_t i = 0; i < numLoops; ++i) {
    if (iters[i] != utils::IteratorType::parallel)
      continue;
    if (i == lastStaticParallel) {
      // Tiles that divide the loop keep every block full and static; whole
      // warps (multiples of 32 threads) are preferred.
      int64_t tile = divisorAtMost(ranges[i], kGpuBlockThreads);
      for (int64_t t = kGpuBlockThreads; t >= 32; t -= 32)
        if (ranges[i] % t == 0) {
          tile = t;
          break;
        }
      distribute[i] = tile;
      threads[i] = tile;
    } else {
      distribute[i] = 1;
    }
  }
  return llm::LoweringConfigAttr::get(op->getContext(), distribute,
                                      /*vector=*/{}, threads);
}

LogicalResult kiln::verifyLoweringConfig(linalg::LinalgOp op,
                                         llm::LoweringConfigAttr config) {
  int64_t numLoops = op.getNumLoops();
  auto checkSize = [&](ArrayRef<int64_t> sizes,
                       StringRef name) -> LogicalResult {
    if (sizes.empty() || int64_t(sizes.size()) == numLoops)
      return success();
    return op->emitOpError("lowering_config '")
           << name << "' has " << sizes.size() << " tile sizes but the op has "
           << numLoops << " loops";
  };
  if (failed(checkSize(config.getDistribute(), "distribute")) ||
      failed(checkSize(config.getVector(), "vector")) ||
      failed(checkSize(config.getThreads(), "threads")))
    return failure();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  for (auto [i, size] : llvm::enumerate(config.getDistribute()))
    if (size != 0 && iters[i] == utils::IteratorType::reduction)
      return op->emitOpError("lowering_config 'distribute' tiles reduction "
                             "loop ")
             << i << "; only parallel loops can be distributed";
  // Threads split either parallel loops (each thread owns whole outputs)
  // or reduction loops (each thread reduces a chunk; partials merged).
  bool splitsReduction = false, splitsParallel = false;
  for (auto [i, n] : llvm::enumerate(config.getThreads())) {
    if (n == 0)
      continue;
    (iters[i] == utils::IteratorType::reduction ? splitsReduction
                                                : splitsParallel) = true;
  }
  if (splitsReduction && splitsParallel)
    return op->emitOpError("lowering_config 'threads' splits both parallel "
                           "and reduction loops; split one kind");
  return success();
}

namespace {
template <typename MappingAttr> bool isMappedForall(Operation *op) {
  auto forall = dyn_cast<scf::ForallOp>(op);
  if (!forall)
    return false;
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && !mapping->empty() && isa<MappingAttr>((*mapping)[0]);
}

template <typename MappingAttr> bool insideMappedForall(Operation *op) {
  for (Operation *parent = op->getParentOp(); parent;
       parent = parent->getParentOp())
    if (isMappedForall<MappingAttr>(parent))
      return true;
  return false;
}
} // namespace

bool kiln::isThreadForall(Operation *op) {
  return isMappedForall<gpu::GPUThreadMappingAttr>(op);
}
bool kiln::insideThreadForall(Operation *op) {
  return insideMappedForall<gpu::GPUThreadMappingAttr>(op);
}
bool kiln::insideBlockForall(Operation *op) {
  return insideMappedForall<gpu::GPUBlockMappingAttr>(op);
}
