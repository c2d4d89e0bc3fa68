//===- GpuKernelAttributes.cpp - NVVM attributes of the outlined kernels --===//
//
// Outlining gives every kernel its block size (`known_block_size`, which
// the NVVM lowering emits as `.maxntid`). Given `.maxntid` alone, ptxas
// (CUDA 13) caps a kernel's registers to keep several blocks per SM
// resident and spills instead: the Llama-3-8B-shaped f32 prefill attention
// kernel for sm_80 got 80 registers and 52 bytes of spills, and 119
// registers without spills once told that one block per SM is enough
// (`.minnctapersm`, from `nvvm.minctasm`). This pass sets that bound on
// every kernel, and aligns every shared-memory buffer to 16 bytes
// (`llvm.align` on the workgroup attributions): 16-byte cp.async copies and
// ldmatrix rows need it, and the element type alone gives bf16 tiles 2.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace kiln {
#define GEN_PASS_DEF_GPUKERNELATTRIBUTES
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {
struct GpuKernelAttributesPass final
    : kiln::impl::GpuKernelAttributesBase<GpuKernelAttributesPass> {
  using Base::Base;

  void runOnOperation() override {
    if (minBlocksPerSM < 1) {
      getOperation()->emitError("kiln-gpu-kernel-attributes: "
                                "'min-blocks-per-sm' must be at least 1, got ")
          << int64_t(minBlocksPerSM);
      return signalPassFailure();
    }
    Builder b(&getContext());
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                    b.getI32IntegerAttr(minBlocksPerSM));
      // Shared tiles start 16-byte aligned: cp.async of 16 bytes and
      // ldmatrix rows need it (the element type alone gives 2 for bf16).
      for (unsigned i = 0, e = func.getNumWorkgroupAttributions(); i < e; ++i)
        func.setWorkgroupAttributionAttr(i, "llvm.align",
                                         b.getI64IntegerAttr(16));
    });
  }
};
} // namespace
