//===- AssignLoweringConfig.cpp - choose tile sizes per root op -----------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace kiln {
#define GEN_PASS_DEF_ASSIGNLOWERINGCONFIG
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
bool hasDynamicReduction(linalg::LinalgOp op) {
  for (auto [range, iter] :
       llvm::zip(op.getStaticLoopRanges(), op.getIteratorTypesArray()))
    if (iter == utils::IteratorType::reduction && ShapedType::isDynamic(range))
      return true;
  return false;
}

struct AssignLoweringConfigPass final
    : kiln::impl::AssignLoweringConfigBase<AssignLoweringConfigPass> {
  using Base::Base;

  void runOnOperation() override {
    if (target != "cpu" && target != "cuda") {
      getOperation()->emitError("kiln-assign-lowering-config: unknown target '")
          << target << "' (supported: cpu, cuda)";
      return signalPassFailure();
    }
    bool gpu = target == "cuda";
    WalkResult result = getOperation()->walk([&](linalg::LinalgOp op) {
      if (auto config = getLoweringConfig(op))
        return succeeded(verifyLoweringConfig(op, config))
                   ? WalkResult::advance()
                   : WalkResult::interrupt();
      bool isRoot = !isFusedIntoConsumers(op);
      if (gpu) {
        // Ops inside a kernel built by an earlier pass (kiln-flash-attention)
        // get their threads there (kiln-tile-and-fuse level=thread).
        if (auto forall = op->getParentOfType<scf::ForallOp>()) {
          std::optional<ArrayAttr> mapping = forall.getMapping();
          if (mapping && !mapping->empty() &&
              isa<gpu::GPUBlockMappingAttr>((*mapping)[0]))
            return WalkResult::advance();
        }
        // Ops the CPU recomputes per tile over a dynamic extent (marked
        // fuse_into_consumers, or reducing over a dynamic loop such as the
        // combine of attention's key splits) are kernels of their own, with
        // their results in global memory: a block cannot allocate a buffer
        // of run-time size.
        if (op->hasAttr(kFuseIntoConsumersAttrName) || hasDynamicReduction(op))
          isRoot = true;
        // GEMVs are kernels of their own (a consumer such as a residual add
        // becomes a separate elementwise kernel): fused into an elementwise
        // root they would run one thread per output.
        // Prefill GEMMs too: their blocks stage operand tiles in shared
        // memory (kiln-gpu-promote-operands), which needs the contraction
        // to own its block.
        if (gpuGemvReduction(op) >= 0 || gpuGemmLoops(op))
          isRoot = true;
        // Ops fused into a block get their threads when the block is split
        // (kiln-tile-and-fuse level=thread).
        if (isRoot)
          op->setAttr(llm::LoweringConfigAttr::getAttrName(),
                      chooseGpuLoweringConfig(op));
        return WalkResult::advance();
      }
      // Fused reductions (the contraction under an epilogue, a row sum) are
      // hot loops of their own: they keep an inner-level config.
      bool hotFusedLoop = !isa<linalg::FillOp>(op.getOperation()) &&
                          op.getNumReductionLoops() > 0;
      if (!isRoot && !hotFusedLoop)
        return WalkResult::advance();
      llm::LoweringConfigAttr config = chooseCpuLoweringConfig(op, isRoot);
      if (!isRoot &&
          llvm::all_of(config.getVector(), [](int64_t s) { return s == 0; }))
        return WalkResult::advance();
      op->setAttr(llm::LoweringConfigAttr::getAttrName(), config);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
