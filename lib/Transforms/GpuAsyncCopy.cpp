//===- GpuAsyncCopy.cpp - shared-tile copies as cp.async ------------------===//
//
// kiln-gpu-promote-operands fills a shared tile with a copy whose threads
// each move whole 16-byte vectors (an llm.async_copy linalg.generic: its
// innermost loop reads consecutive source elements; past a dynamic size it
// yields zero). After kiln-gpu-launch, each thread's part of such a copy is
// a generic over [rows, 1, vector] elements of a workgroup tile. Here each
// vector becomes one nvgpu.device_async_copy (cp.async): the body's index
// arithmetic is cloned at the vector's first element to find the source
// address, and its zero-padding condition becomes the copy's srcElements
// (cp.async fills the rest of the vector with zeros). kiln-gpu-pipeline
// already placed the commit and wait groups.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_GPUASYNCCOPY
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
/// The load a copy's body yields, and the condition under which it yields
/// the load rather than zero (null when always).
struct CopyBody {
  memref::LoadOp load;
  Value valid;
};

std::optional<CopyBody> matchBody(linalg::GenericOp copy) {
  Block &body = copy.getRegion().front();
  if (body.getArgument(0).use_empty() == false)
    return std::nullopt;
  Value yielded = body.getTerminator()->getOperand(0);
  if (auto load = yielded.getDefiningOp<memref::LoadOp>())
    return CopyBody{load, Value()};
  auto select = yielded.getDefiningOp<arith::SelectOp>();
  if (!select || !matchPattern(select.getFalseValue(), m_AnyZeroFloat()))
    if (!select || !matchPattern(select.getFalseValue(), m_Zero()))
      return std::nullopt;
  auto load = select.getTrueValue().getDefiningOp<memref::LoadOp>();
  if (!load)
    return std::nullopt;
  return CopyBody{load, select.getCondition()};
}

LogicalResult convert(RewriterBase &rewriter, linalg::GenericOp copy) {
  if (!copy.hasPureBufferSemantics() || copy.getNumDpsInits() != 1 ||
      copy.getNumDpsInputs() != 0 || copy.getNumLoops() != 3 ||
      !copy.getIndexingMapsArray().front().isIdentity())
    return failure();
  Value dst = copy.getDpsInits()[0];
  auto dstType = cast<MemRefType>(dst.getType());
  if (!dstType.hasStaticShape() ||
      !nvgpu::NVGPUDialect::hasSharedMemoryAddressSpace(dstType))
    return failure();
  ArrayRef<int64_t> shape = dstType.getShape();
  int64_t vector = shape[2];
  int64_t bytes = vector * dstType.getElementTypeBitWidth() / 8;
  if (bytes != 4 && bytes != 8 && bytes != 16)
    return failure();
  std::optional<CopyBody> body = matchBody(copy);
  if (!body)
    return failure();

  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value full = arith::ConstantIndexOp::create(rewriter, loc, vector);
  Block &block = copy.getRegion().front();
  for (int64_t i0 = 0; i0 < shape[0]; ++i0) {
    for (int64_t i1 = 0; i1 < shape[1]; ++i1) {
      // The body at the vector's first element (i0, i1, 0).
      IRMapping map;
      int64_t at[3] = {i0, i1, 0};
      for (Operation &op : block.without_terminator()) {
        if (&op == body->load.getOperation())
          continue;
        if (auto index = dyn_cast<linalg::IndexOp>(op)) {
          map.map(index.getResult(), arith::ConstantIndexOp::create(
                                         rewriter, loc, at[index.getDim()]));
          continue;
        }
        if (llvm::any_of(op.getOperands(),
                         [&](Value v) { return v == body->load.getResult(); }))
          continue; // the select: its condition is all that is needed
        rewriter.clone(op, map);
      }
      SmallVector<Value> srcIndices;
      for (Value index : body->load.getIndices())
        srcIndices.push_back(map.lookupOrDefault(index));
      Value srcElements;
      if (body->valid)
        srcElements = arith::SelectOp::create(
            rewriter, loc, map.lookupOrDefault(body->valid), full, zero);
      Value c0 = arith::ConstantIndexOp::create(rewriter, loc, i0);
      Value c1 = arith::ConstantIndexOp::create(rewriter, loc, i1);
      nvgpu::DeviceAsyncCopyOp::create(
          rewriter, loc,
          nvgpu::DeviceAsyncTokenType::get(rewriter.getContext()), dst,
          ValueRange{c0, c1, zero}, body->load.getMemRef(), srcIndices,
          rewriter.getIndexAttr(vector), srcElements,
          bytes == 16 ? rewriter.getUnitAttr() : UnitAttr());
    }
  }
  rewriter.eraseOp(copy);
  return success();
}

struct GpuAsyncCopyPass final : kiln::impl::GpuAsyncCopyBase<GpuAsyncCopyPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> copies;
    getOperation()->walk([&](linalg::GenericOp generic) {
      if (generic->hasAttr(kAsyncCopyAttrName))
        copies.push_back(generic);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp copy : copies)
      (void)convert(rewriter, copy); // the rest stay loops
  }
};
} // namespace
