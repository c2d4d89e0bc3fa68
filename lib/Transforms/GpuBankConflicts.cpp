//===- GpuBankConflicts.cpp - report shared-memory bank conflicts ---------===//
//
// The static bank-conflict count of every kernel (SharedMemoryBanks.h), as
// remarks: one per shared-memory access and one per kernel. It changes
// nothing; lit tests run it before and after kiln-gpu-swizzle.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"
#include "kiln/Transforms/SharedMemoryBanks.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace kiln {
#define GEN_PASS_DEF_GPUBANKCONFLICTS
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
struct GpuBankConflictsPass final
    : kiln::impl::GpuBankConflictsBase<GpuBankConflictsPass> {
  using Base::Base;

  void runOnOperation() override {
    WalkResult result = getOperation()->walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return WalkResult::advance();
      FailureOr<SmallVector<SharedAccess>> accessList =
          collectSharedAccesses(func);
      if (failed(accessList))
        return WalkResult::interrupt();
      int64_t conflicted = 0, extra = 0, unknown = 0;
      for (const SharedAccess &access : *accessList) {
        StringRef kind = access.isWrite ? "store" : "load";
        if (!access.unknown.empty()) {
          ++unknown;
          if (accesses)
            access.op->emitRemark("shared ")
                << kind << ": not analyzed (" << access.unknown << ")";
          continue;
        }
        auto shape = cast<MemRefType>(access.buffer.getType()).getShape();
        Wavefronts waves =
            countWavefronts(access, [&](ArrayRef<int64_t> indices) {
              return rowMajorOffset(shape, indices);
            });
        if (waves.extra() > 0)
          ++conflicted;
        extra += waves.extra();
        if (accesses)
          access.op->emitRemark("shared ")
              << kind << " of workgroup buffer " << access.bufferIndex << ": "
              << waves.actual << " wavefronts per warp, " << waves.ideal
              << " without conflicts (" << waves.extra() << " extra)";
      }
      func.emitRemark("kiln-gpu-bank-conflicts: @")
          << func.getName() << ": " << accessList->size()
          << " shared-memory accesses, " << conflicted
          << " with bank conflicts, " << extra << " extra wavefronts per warp, "
          << unknown << " not analyzed";
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
