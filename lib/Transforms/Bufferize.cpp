//===- Bufferize.cpp - One-Shot Bufferize with Kiln's options -------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Transforms.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_BUFFERIZE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
struct BufferizePass final : kiln::impl::BufferizeBase<BufferizePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    options.memCpyFn = [](OpBuilder &b, Location loc, Value from,
                          Value to) -> LogicalResult {
      linalg::CopyOp::create(b, loc, from, to);
      return success();
    };

    IRRewriter rewriter(&getContext());
    duplicateSharedFills(rewriter, module);
    if (failed(bufferization::eliminateEmptyTensors(rewriter, module)))
      return signalPassFailure();
    bufferization::BufferizationState state;
    if (failed(
            bufferization::runOneShotModuleBufferize(module, options, state)))
      return signalPassFailure();
    // Private functions (the layer bodies) stop returning the buffers that
    // are their own arguments; call sites then use the arguments directly.
    if (failed(bufferization::dropEquivalentBufferResults(module)))
      return signalPassFailure();
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        dropReturnedArguments(func);
  }

  /// CSE merges identical zero-filled accumulators (the gate and up
  /// projections share one): a fill that initialises several accumulators
  /// (directly or as an scf.for init) would then be copied for all but one
  /// of them. Refilling is cheaper than a copy, so each extra use gets its
  /// own fill.
  void duplicateSharedFills(RewriterBase &rewriter, ModuleOp module) {
    SmallVector<linalg::FillOp> fills;
    module.walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->getResult(0).hasOneUse())
        fills.push_back(fill);
    });
    for (linalg::FillOp fill : fills) {
      SmallVector<OpOperand *> uses = llvm::map_to_vector(
          fill->getResult(0).getUses(), [](OpOperand &use) { return &use; });
      for (OpOperand *use : llvm::drop_begin(uses)) {
        rewriter.setInsertionPoint(use->getOwner());
        Operation *clone = rewriter.clone(*fill);
        rewriter.modifyOpInPlace(use->getOwner(),
                                 [&] { use->set(clone->getResult(0)); });
      }
    }
  }

  /// Public entry points return the buffers they updated in place (the KV
  /// caches) as their own arguments. Returning them would only make the
  /// deallocation pipeline clone them, so they are dropped from the
  /// signature: the caller already owns them.
  void dropReturnedArguments(func::FuncOp func) {
    if (!func.getBody().hasOneBlock())
      return;
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    llvm::BitVector erase(func.getNumResults());
    SmallVector<int64_t> argOfResult(func.getNumResults(), -1);
    SmallVector<Value> kept;
    for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
      auto arg = dyn_cast<BlockArgument>(value);
      if (arg && arg.getOwner() == &func.getBody().front()) {
        erase.set(i);
        argOfResult[i] = arg.getArgNumber();
      } else {
        kept.push_back(value);
      }
    }
    if (erase.none())
      return;

    // Callers inside the module (test drivers, say) use the buffer they
    // passed in place of each dropped result.
    SmallVector<func::CallOp> calls;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == func.getSymName())
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      SmallVector<Type> keptTypes;
      for (unsigned i = 0, e = call.getNumResults(); i < e; ++i)
        if (!erase.test(i))
          keptTypes.push_back(call.getResult(i).getType());
      auto newCall = func::CallOp::create(b, call.getLoc(), func.getSymName(),
                                          keptTypes, call.getOperands());
      unsigned next = 0;
      for (unsigned i = 0, e = call.getNumResults(); i < e; ++i) {
        Value replacement = erase.test(i) ? call.getOperand(argOfResult[i])
                                          : newCall.getResult(next++);
        call.getResult(i).replaceAllUsesWith(replacement);
      }
      call.erase();
    }

    OpBuilder b(ret);
    func::ReturnOp::create(b, ret.getLoc(), kept);
    ret.erase();
    (void)func.eraseResults(erase);
  }
};
} // namespace
