//===- AssignLoweringConfig.cpp - choose tile sizes per root op -----------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace kiln {
#define GEN_PASS_DEF_ASSIGNLOWERINGCONFIG
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
struct AssignLoweringConfigPass final
    : kiln::impl::AssignLoweringConfigBase<AssignLoweringConfigPass> {
  using Base::Base;

  void runOnOperation() override {
    if (target != "cpu") {
      getOperation()->emitError("kiln-assign-lowering-config: unknown target '")
          << target << "' (supported: cpu)";
      return signalPassFailure();
    }
    WalkResult result = getOperation()->walk([&](linalg::LinalgOp op) {
      if (auto config = getLoweringConfig(op))
        return succeeded(verifyLoweringConfig(op, config))
                   ? WalkResult::advance()
                   : WalkResult::interrupt();
      if (isFusedIntoConsumers(op))
        return WalkResult::advance();
      op->setAttr(llm::LoweringConfigAttr::getAttrName(),
                  chooseCpuLoweringConfig(op));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
