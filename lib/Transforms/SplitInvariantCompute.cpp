//===- SplitInvariantCompute.cpp - hoist loop-invariant generic bodies ----===//
//
// A linalg.generic evaluates its whole body at every point of its iteration
// space. Part of the body may not depend on one of the parallel loops: in
// the attention output `out[d] += exp(s[j] - max) / sum * v[j, d]`, the
// softmax weight is the same for every `d`, yet it is recomputed (one `exp`
// call) for each of the head_dim output features. This pass computes that
// part once, in a generic over the other loops, and feeds its result to the
// remaining generic.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallBitVector.h"

namespace kiln {
#define GEN_PASS_DEF_SPLITINVARIANTCOMPUTE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
/// The part of a generic's body that does not depend on loop `loop`.
struct InvariantPart {
  unsigned loop = 0;
  /// Ops of the body (in order) whose results are the same for every
  /// iteration of `loop`.
  SmallVector<Operation *> ops;
  /// Results of `ops` that the rest of the body uses: what the hoisted
  /// generic materialises.
  SmallVector<Value> frontier;
};

/// Ops worth computing once rather than per iteration: transcendental
/// functions (libm calls once lowered) and divisions.
bool isExpensive(Operation *op) {
  return isa<math::MathDialect>(op->getDialect()) ||
         isa<arith::DivFOp, arith::RemFOp>(op);
}

/// The invariant part of `op`'s body with respect to `loop`, if it contains
/// an expensive op whose result the rest of the body uses.
std::optional<InvariantPart> findInvariantPart(linalg::GenericOp op,
                                               unsigned loop) {
  Block &body = op.getRegion().front();
  DenseSet<Value> invariant;
  for (OpOperand *input : op.getDpsInputOperands())
    if (!op.getMatchingIndexingMap(input).isFunctionOfDim(loop))
      invariant.insert(op.getMatchingBlockArgument(input));
  auto isInvariant = [&](Value value) {
    return invariant.contains(value) ||
           !op.getRegion().isAncestor(value.getParentRegion());
  };

  InvariantPart part;
  part.loop = loop;
  for (Operation &inner : body.without_terminator()) {
    bool isInv;
    if (auto index = dyn_cast<linalg::IndexOp>(inner))
      isInv = index.getDim() != loop;
    else
      isInv = inner.getNumRegions() == 0 && isMemoryEffectFree(&inner) &&
              llvm::all_of(inner.getOperands(), isInvariant);
    if (!isInv)
      continue;
    part.ops.push_back(&inner);
    for (Value result : inner.getResults())
      invariant.insert(result);
  }

  // The frontier: invariant results used by the variant rest of the body.
  // Constants are cloned where they are used instead.
  DenseSet<Operation *> invariantOps(part.ops.begin(), part.ops.end());
  SetVector<Value> frontier;
  for (Operation &inner : body) {
    if (invariantOps.contains(&inner))
      continue;
    for (Value operand : inner.getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && invariantOps.contains(def) &&
          !def->hasTrait<OpTrait::ConstantLike>())
        frontier.insert(operand);
    }
  }
  if (frontier.empty())
    return std::nullopt;
  part.frontier = frontier.takeVector();

  // Only worth a materialised tensor if an expensive op feeds the frontier.
  SmallVector<Value> worklist(part.frontier);
  DenseSet<Operation *> seen;
  bool expensive = false;
  while (!worklist.empty() && !expensive) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || !invariantOps.contains(def) || !seen.insert(def).second)
      continue;
    expensive = isExpensive(def);
    llvm::append_range(worklist, def->getOperands());
  }
  if (!expensive)
    return std::nullopt;
  return part;
}

/// Splits `op` into a generic that computes `part` over all loops but
/// `part.loop` and the rest of `op`, which reads the former's results. The
/// rest has `part.loop` moved innermost when only reductions follow it and
/// it indexes the innermost dimension of the output, so that the inner loop
/// walks the output (and the operands indexed like it) contiguously.
void split(RewriterBase &rewriter, linalg::GenericOp op,
           const InvariantPart &part) {
  Location loc = op.getLoc();
  unsigned numLoops = op.getNumLoops();
  unsigned loop = part.loop;
  Block &body = op.getRegion().front();
  DenseSet<Operation *> invariantOps(part.ops.begin(), part.ops.end());

  rewriter.setInsertionPoint(op);
  SmallVector<OpFoldResult> sizes;
  for (auto [i, range] :
       llvm::enumerate(cast<linalg::LinalgOp>(op.getOperation())
                           .createLoopRanges(rewriter, loc)))
    if (i != loop)
      sizes.push_back(range.size);

  // The hoisted generic: the inputs its ops read, one output per frontier
  // value, all loops parallel.
  llvm::SmallBitVector dropped(numLoops);
  dropped.set(loop);
  SmallVector<Value> hoistedInputs;
  SmallVector<AffineMap> hoistedMaps;
  SmallVector<BlockArgument> hoistedArgs;
  for (OpOperand *input : op.getDpsInputOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(input);
    bool used = llvm::any_of(arg.getUsers(), [&](Operation *user) {
      return invariantOps.contains(user);
    });
    if (!used)
      continue;
    hoistedInputs.push_back(input->get());
    hoistedMaps.push_back(
        compressDims(op.getMatchingIndexingMap(input), dropped));
    hoistedArgs.push_back(arg);
  }
  SmallVector<Value> hoistedInits;
  for (Value value : part.frontier) {
    hoistedInits.push_back(
        tensor::EmptyOp::create(rewriter, loc, sizes, value.getType()));
    hoistedMaps.push_back(rewriter.getMultiDimIdentityMap(numLoops - 1));
  }
  SmallVector<utils::IteratorType> parallel(numLoops - 1,
                                            utils::IteratorType::parallel);
  auto hoisted = linalg::GenericOp::create(
      rewriter, loc, ValueRange(hoistedInits).getTypes(), hoistedInputs,
      hoistedInits, hoistedMaps, parallel,
      [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
        IRMapping mapping;
        for (auto [arg, newArg] : llvm::zip(hoistedArgs, args))
          mapping.map(arg, newArg);
        for (Operation *inner : part.ops) {
          if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
            uint64_t dim = index.getDim();
            mapping.map(index.getResult(),
                        linalg::IndexOp::create(b, nestedLoc,
                                                dim > loop ? dim - 1 : dim));
            continue;
          }
          b.clone(*inner, mapping);
        }
        SmallVector<Value> yielded;
        for (Value value : part.frontier)
          yielded.push_back(mapping.lookup(value));
        linalg::YieldOp::create(b, nestedLoc, yielded);
      });

  // The rest: the inputs its ops still read, the hoisted results (indexed by
  // every loop but `loop`) and the original outputs.
  SmallVector<AffineExpr> keptDims;
  for (unsigned i = 0; i < numLoops; ++i)
    if (i != loop)
      keptDims.push_back(rewriter.getAffineDimExpr(i));
  AffineMap hoistedResultMap =
      AffineMap::get(numLoops, 0, keptDims, rewriter.getContext());
  SmallVector<Value> restInputs;
  SmallVector<AffineMap> restMaps;
  SmallVector<BlockArgument> restArgs;
  for (OpOperand *input : op.getDpsInputOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(input);
    bool used = llvm::any_of(arg.getUsers(), [&](Operation *user) {
      return !invariantOps.contains(user);
    });
    if (!used)
      continue;
    restInputs.push_back(input->get());
    restMaps.push_back(op.getMatchingIndexingMap(input));
    restArgs.push_back(arg);
  }
  llvm::append_range(restInputs, hoisted.getResults());
  restMaps.append(part.frontier.size(), hoistedResultMap);
  for (OpOperand &init : op.getDpsInitsMutable()) {
    restMaps.push_back(op.getMatchingIndexingMap(&init));
    restArgs.push_back(op.getMatchingBlockArgument(&init));
  }
  SmallVector<Value> restInits(op.getDpsInits());
  auto rest = linalg::GenericOp::create(
      rewriter, loc, op->getResultTypes(), restInputs, restInits, restMaps,
      op.getIteratorTypesArray(),
      [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
        IRMapping mapping;
        unsigned numKeptInputs = restInputs.size() - part.frontier.size();
        for (unsigned i = 0; i < numKeptInputs; ++i)
          mapping.map(restArgs[i], args[i]);
        for (auto [value, arg] :
             llvm::zip(part.frontier,
                       args.slice(numKeptInputs, part.frontier.size())))
          mapping.map(value, arg);
        for (auto [init, arg] :
             llvm::zip(ArrayRef(restArgs).drop_front(numKeptInputs),
                       args.drop_front(restInputs.size())))
          mapping.map(init, arg);
        for (Operation &inner : body) {
          if (invariantOps.contains(&inner) &&
              !inner.hasTrait<OpTrait::ConstantLike>())
            continue;
          b.clone(inner, mapping);
        }
      });
  SmallVector<NamedAttribute> discardable(op->getDiscardableAttrs());
  rest->setDiscardableAttrs(discardable);
  rewriter.replaceOp(op, rest->getResults());

  // Walk the output contiguously in the innermost loop.
  SmallVector<utils::IteratorType> iters = rest.getIteratorTypesArray();
  bool onlyReductionsAfter =
      loop + 1 < numLoops &&
      llvm::all_of(ArrayRef(iters).drop_front(loop + 1),
                   [](utils::IteratorType it) {
                     return it == utils::IteratorType::reduction;
                   });
  bool innermostOfOutputs =
      llvm::all_of(rest.getDpsInitsMutable(), [&](OpOperand &init) {
        AffineMap map = rest.getMatchingIndexingMap(&init);
        return map.getNumResults() > 0 &&
               map.getResults().back() == rewriter.getAffineDimExpr(loop);
      });
  if (!onlyReductionsAfter || !innermostOfOutputs)
    return;
  SmallVector<unsigned> permutation;
  for (unsigned i = 0; i < numLoops; ++i)
    if (i != loop)
      permutation.push_back(i);
  permutation.push_back(loop);
  FailureOr<linalg::GenericOp> interchanged =
      linalg::interchangeGenericOp(rewriter, rest, permutation);
  if (failed(interchanged))
    return;
  // A config of the generic follows its loops.
  if (llm::LoweringConfigAttr config = getLoweringConfig(*interchanged)) {
    auto permute = [&](ArrayRef<int64_t> sizes) {
      SmallVector<int64_t> permuted;
      if (sizes.empty())
        return permuted;
      for (unsigned i : permutation)
        permuted.push_back(sizes[i]);
      return permuted;
    };
    (*interchanged)
        ->setAttr(llm::LoweringConfigAttr::getAttrName(),
                  llm::LoweringConfigAttr::get(rewriter.getContext(),
                                               permute(config.getDistribute()),
                                               permute(config.getVector())));
  }
}

struct SplitInvariantComputePass final
    : kiln::impl::SplitInvariantComputeBase<SplitInvariantComputePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> candidates;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (!op.hasPureTensorSemantics() || op.getNumDpsInits() == 0)
        return;
      // Tiles that the vector level turns into vector ops are left alone.
      if (llm::LoweringConfigAttr config = getLoweringConfig(op))
        if (llvm::any_of(config.getVector(), [](int64_t s) { return s; }))
          return;
      candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
      // The innermost parallel loop first: the one whose recomputation
      // costs the most.
      for (unsigned loop = op.getNumLoops(); loop-- > 0;) {
        if (iters[loop] != utils::IteratorType::parallel || ranges[loop] == 1)
          continue;
        if (std::optional<InvariantPart> part = findInvariantPart(op, loop)) {
          split(rewriter, op, *part);
          break;
        }
      }
    }
  }
};
} // namespace
