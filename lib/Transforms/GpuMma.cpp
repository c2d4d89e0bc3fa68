//===- GpuMma.cpp - prefill GEMM blocks on tensor cores -------------------===//
//
// A prefill GEMM block (kiln-gpu-promote-operands) multiplies, per K step,
// a shared [1, 32 tokens, K] tile of activations by a shared [N, K] tile of
// weights into a shared [1, 32, N] f32 accumulator; the thread level splits
// that contraction among 4 x 32 (or 4 x 16) threads, each a few tokens x 2
// features with scalar FMAs. For bf16 and f16 this pass replaces the
// threads' contraction by warp-level tensor-core code: warp w of the 4
// (thread y, with block x a multiple of 32) takes tokens 16 * (w / 2) ...
// and features N / 2 * (w % 2) ..., loads its A fragments with
// `ldmatrix.x4` and each 8-feature B fragment with `ldmatrix.x2` (the
// weights are [N, K], K contiguous: the "col" operand of mma.sync without
// a transpose), the accumulator fragment with scalar loads, and issues
// `mma.sync.m16n8k16` (f32 accumulation) per 16 elements of K. The
// fragment layouts are the PTX ISA's for m16n8k16.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_GPUMMA
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr int64_t kWarpTokens = 16; // mma.sync m
constexpr int64_t kWarpK = 16;      // mma.sync k (16-bit operands)
constexpr int64_t kFragmentN = 8;   // mma.sync n

/// A thread-split prefill GEMM contraction and the block's whole tiles.
struct BlockGemm {
  linalg::LinalgOp op;
  Value a, b, c;  // [1, 32, K], [N, K], [1, 32, N] in shared memory
  int64_t n, k;
  Operation *region; // what the threads' code is: the guard or the op
};

bool isShared(Value v) {
  auto type = dyn_cast<MemRefType>(v.getType());
  return type && type.hasStaticShape() &&
         gpu::GPUDialect::hasWorkgroupMemoryAddressSpace(type);
}

/// The whole tile a thread's operand is a subview of.
Value wholeTile(Value v) {
  auto subview = v.getDefiningOp<memref::SubViewOp>();
  return subview ? subview.getSource() : Value();
}

std::optional<BlockGemm> matchBlockGemm(linalg::LinalgOp op) {
  if (!isa<linalg::ContractOp, linalg::MatmulOp>(op.getOperation()) ||
      !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      !op->getParentOfType<gpu::LaunchOp>())
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  SmallVector<AffineMap> expected = {
      AffineMap::get(4, 0, {d0, d1, d3}, ctx),
      AffineMap::get(4, 0, {d2, d3}, ctx),
      AffineMap::get(4, 0, {d0, d1, d2}, ctx)};
  if (op.getIndexingMapsArray() != expected)
    return std::nullopt;
  Value a = wholeTile(op.getDpsInputs()[0]);
  Value b = wholeTile(op.getDpsInputs()[1]);
  Value c = wholeTile(op.getDpsInits()[0]);
  if (!a || !b || !c || !isShared(a) || !isShared(b) || !isShared(c))
    return std::nullopt;
  auto aType = cast<MemRefType>(a.getType());
  auto bType = cast<MemRefType>(b.getType());
  auto cType = cast<MemRefType>(c.getType());
  Type element = aType.getElementType();
  if (!(element.isBF16() || element.isF16()) ||
      bType.getElementType() != element || !cType.getElementType().isF32())
    return std::nullopt;
  if (aType.getRank() != 3 || bType.getRank() != 2 || cType.getRank() != 3)
    return std::nullopt;
  int64_t tokens = aType.getDimSize(1), k = aType.getDimSize(2);
  int64_t n = bType.getDimSize(0);
  if (aType.getDimSize(0) != 1 || tokens != 2 * kWarpTokens ||
      bType.getDimSize(1) != k || k % kWarpK != 0 ||
      cType.getShape() != ArrayRef<int64_t>{1, tokens, n} ||
      n % (2 * kFragmentN) != 0)
    return std::nullopt;
  // Rows of A and B must start 16-byte aligned for ldmatrix.
  if ((k * 2) % 16 != 0)
    return std::nullopt;
  Operation *region = op;
  if (auto guard = dyn_cast<scf::IfOp>(op->getParentOp()))
    if (guard.getElseRegion().empty())
      region = guard;
  // The region must hold only this contraction and the views it uses.
  if (region != op.getOperation()) {
    for (Operation &nested : cast<scf::IfOp>(region).getThenRegion().front())
      if (!isa<linalg::LinalgOp, memref::SubViewOp, affine::AffineApplyOp,
               arith::ConstantOp, scf::YieldOp>(nested) &&
          !isa<arith::ArithDialect>(nested.getDialect()))
        return std::nullopt;
  }
  return BlockGemm{op, a, b, c, n, k, region};
}

/// The block's x size, when it is a static multiple of the warp size.
std::optional<int64_t> warpAlignedBlockX(Operation *op) {
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  std::optional<int64_t> x = getConstantIntValue(launch.getBlockSizeX());
  std::optional<int64_t> y = getConstantIntValue(launch.getBlockSizeY());
  if (!x || !y || *x % 32 != 0 || *y < 4)
    return std::nullopt;
  return x;
}

void emitWarpGemm(RewriterBase &rewriter, const BlockGemm &gemm) {
  Location loc = gemm.op->getLoc();
  rewriter.setInsertionPoint(gemm.region);
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(rewriter, loc, x, y);
  };
  auto mul = [&](Value x, int64_t y) -> Value {
    return arith::MulIOp::create(rewriter, loc, x, cst(y));
  };
  auto div = [&](Value x, int64_t y) -> Value {
    return arith::DivUIOp::create(rewriter, loc, x, cst(y));
  };
  auto rem = [&](Value x, int64_t y) -> Value {
    return arith::RemUIOp::create(rewriter, loc, x, cst(y));
  };
  Value lane = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::x);
  Value warp = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::y);
  Value active = arith::AndIOp::create(
      rewriter, loc,
      arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, lane,
                            cst(32)),
      arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, warp,
                            cst(4)));
  auto guard = scf::IfOp::create(rewriter, loc, active, /*else=*/false);
  rewriter.setInsertionPointToStart(&guard.getThenRegion().front());

  Type element = cast<MemRefType>(gemm.a.getType()).getElementType();
  NVVM::MMATypes ptxType =
      element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  MLIRContext *ctx = rewriter.getContext();
  Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
  auto fragmentA = VectorType::get({4, 2}, element);
  auto fragmentB = VectorType::get({2, 2}, element);
  auto resultType =
      LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});

  // Warp w: tokens 16 * (w / 2), features N / 2 * (w % 2).
  Value tokens0 = mul(div(warp, 2), kWarpTokens);
  int64_t warpN = gemm.n / 2;
  Value features0 = mul(rem(warp, 2), warpN);
  Value zero = cst(0);

  // A fragments (16 tokens x 16 of K each): ldmatrix.x4, lane l giving the
  // address of row l % 16, columns 8 * (l / 16) of its 16 x 16 block.
  SmallVector<SmallVector<Value>> aRegs;
  Value rowA = add(tokens0, rem(lane, 16));
  for (int64_t kk = 0; kk < gemm.k; kk += kWarpK) {
    Value colA = add(cst(kk), mul(div(lane, 16), 8));
    Value frag = nvgpu::LdMatrixOp::create(rewriter, loc, fragmentA, gemm.a,
                                           ValueRange{zero, rowA, colA},
                                           /*transpose=*/false,
                                           /*numTiles=*/4);
    Value packed = vector::BitCastOp::create(
        rewriter, loc, VectorType::get({4, 1}, i32), frag);
    SmallVector<Value> regs;
    for (int64_t r = 0; r < 4; ++r)
      regs.push_back(vector::ExtractOp::create(rewriter, loc, packed,
                                               ArrayRef<int64_t>{r, 0}));
    aRegs.push_back(regs);
  }

  for (int64_t j = 0; j < warpN / kFragmentN; ++j) {
    Value n0 = add(features0, cst(j * kFragmentN));
    // The accumulator fragment: rows l / 4 and l / 4 + 8, columns
    // 2 * (l % 4) and the next.
    Value rowC = add(tokens0, div(lane, 4));
    Value rowC8 = add(rowC, cst(8));
    Value colC = add(n0, mul(rem(lane, 4), 2));
    Value colC1 = add(colC, cst(1));
    SmallVector<std::pair<Value, Value>> cAt = {
        {rowC, colC}, {rowC, colC1}, {rowC8, colC}, {rowC8, colC1}};
    SmallVector<Value> acc;
    for (auto [row, col] : cAt)
      acc.push_back(memref::LoadOp::create(rewriter, loc, gemm.c,
                                           ValueRange{zero, row, col}));
    // B fragments (8 features x 16 of K): ldmatrix.x2, lanes 0-15 giving
    // rows n0 + l % 8, columns 8 * ((l / 8) % 2).
    Value rowB = add(n0, rem(lane, 8));
    for (int64_t kk = 0, step = 0; kk < gemm.k; kk += kWarpK, ++step) {
      Value colB = add(cst(kk), mul(rem(div(lane, 8), 2), 8));
      Value frag = nvgpu::LdMatrixOp::create(rewriter, loc, fragmentB, gemm.b,
                                             ValueRange{rowB, colB},
                                             /*transpose=*/false,
                                             /*numTiles=*/2);
      Value packed = vector::BitCastOp::create(
          rewriter, loc, VectorType::get({2, 1}, i32), frag);
      SmallVector<Value> bRegs;
      for (int64_t r = 0; r < 2; ++r)
        bRegs.push_back(vector::ExtractOp::create(rewriter, loc, packed,
                                                  ArrayRef<int64_t>{r, 0}));
      Value d = NVVM::MmaOp::create(
          rewriter, loc, resultType, aRegs[step], bRegs, acc,
          ArrayRef<int64_t>{kWarpTokens, kFragmentN, kWarpK},
          /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
          std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
          std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                         NVVM::MMALayout::col});
      for (int64_t r = 0; r < 4; ++r)
        acc[r] = LLVM::ExtractValueOp::create(rewriter, loc, d,
                                              ArrayRef<int64_t>{r});
    }
    for (auto [value, at] : llvm::zip(acc, cAt))
      memref::StoreOp::create(rewriter, loc, value, gemm.c,
                              ValueRange{zero, at.first, at.second});
  }
  rewriter.eraseOp(gemm.region);
}

struct GpuMmaPass final : kiln::impl::GpuMmaBase<GpuMmaPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<BlockGemm> gemms;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (std::optional<BlockGemm> gemm = matchBlockGemm(op))
        if (warpAlignedBlockX(op))
          gemms.push_back(*gemm);
    });
    IRRewriter rewriter(&getContext());
    for (const BlockGemm &gemm : gemms)
      emitWarpGemm(rewriter, gemm);
  }
};
} // namespace
