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
  Value a, b, c; // [1, 32, K], [N, K], [1, 32, N] in shared memory
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
  SmallVector<AffineMap> expected = {AffineMap::get(4, 0, {d0, d1, d3}, ctx),
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
  // The region must hold only this contraction and the views and index
  // arithmetic it uses (it is replaced whole).
  if (region != op.getOperation()) {
    for (Operation &nested : cast<scf::IfOp>(region).getThenRegion().front())
      if (&nested != op.getOperation() &&
          !isa<memref::SubViewOp, affine::AffineApplyOp, scf::YieldOp>(
              nested) &&
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

/// Index arithmetic at the current insertion point.
struct IndexBuilder {
  RewriterBase &rewriter;
  Location loc;
  Value cst(int64_t v) {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  }
  Value add(Value x, Value y) {
    return arith::AddIOp::create(rewriter, loc, x, y);
  }
  Value mul(Value x, int64_t y) {
    return arith::MulIOp::create(rewriter, loc, x, cst(y));
  }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(rewriter, loc, x, cst(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(rewriter, loc, x, cst(y));
  }
};

/// Where a lane's accumulator fragments live in the shared accumulator:
/// for each 8-feature slice j of its warp, rows l / 4 and l / 4 + 8,
/// columns n0 + 2 (l % 4) and the next (the PTX m16n8k16 C layout).
struct WarpLayout {
  Value lane, warp, active, tokens0, features0;
  int64_t warpN;
  SmallVector<std::array<std::pair<Value, Value>, 4>> accAt; // per slice j
};

WarpLayout warpLayout(RewriterBase &rewriter, Location loc,
                      const BlockGemm &gemm) {
  IndexBuilder ib{rewriter, loc};
  WarpLayout w;
  w.lane = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::x);
  w.warp = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::y);
  w.active = arith::AndIOp::create(
      rewriter, loc,
      arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, w.lane,
                            ib.cst(32)),
      arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, w.warp,
                            ib.cst(4)));
  // Warp w: tokens 16 * (w / 2), features N / 2 * (w % 2).
  w.tokens0 = ib.mul(ib.div(w.warp, 2), kWarpTokens);
  w.warpN = gemm.n / 2;
  w.features0 = ib.mul(ib.rem(w.warp, 2), w.warpN);
  for (int64_t j = 0; j < w.warpN / kFragmentN; ++j) {
    Value n0 = ib.add(w.features0, ib.cst(j * kFragmentN));
    Value row = ib.add(w.tokens0, ib.div(w.lane, 4));
    Value row8 = ib.add(row, ib.cst(8));
    Value col = ib.add(n0, ib.mul(ib.rem(w.lane, 4), 2));
    Value col1 = ib.add(col, ib.cst(1));
    w.accAt.push_back({std::pair{row, col}, std::pair{row, col1},
                       std::pair{row8, col}, std::pair{row8, col1}});
  }
  return w;
}

/// An ldmatrix of `numTiles` 8x8 matrices at `indices` of `tile`, as the
/// registers mma.sync takes: two 16-bit elements each, as `i32` for bf16
/// and as `vector<2xf16>` for f16 (what nvvm.mma.sync accepts for each).
SmallVector<Value> loadFragment(RewriterBase &rewriter, Location loc,
                                Value tile, ValueRange indices,
                                int64_t numTiles) {
  Type element = cast<MemRefType>(tile.getType()).getElementType();
  Value frag = nvgpu::LdMatrixOp::create(
      rewriter, loc, VectorType::get({numTiles, 2}, element), tile, indices,
      /*transpose=*/false, numTiles);
  SmallVector<Value> regs;
  if (element.isF16()) {
    for (int64_t r = 0; r < numTiles; ++r)
      regs.push_back(
          vector::ExtractOp::create(rewriter, loc, frag, ArrayRef<int64_t>{r}));
    return regs;
  }
  Value packed = vector::BitCastOp::create(
      rewriter, loc, VectorType::get({numTiles, 1}, rewriter.getI32Type()),
      frag);
  for (int64_t r = 0; r < numTiles; ++r)
    regs.push_back(vector::ExtractOp::create(rewriter, loc, packed,
                                             ArrayRef<int64_t>{r, 0}));
  return regs;
}

/// One K step of a warp on tensor cores, guarded to the block's 4 warps:
/// takes the accumulator fragments (4 f32 per 8-feature slice, in order)
/// and returns them updated (unchanged for the other threads).
SmallVector<Value> emitWarpStep(RewriterBase &rewriter, Location loc,
                                const BlockGemm &gemm, const WarpLayout &w,
                                ValueRange acc) {
  IndexBuilder ib{rewriter, loc};
  auto guard = scf::IfOp::create(rewriter, loc, acc.getTypes(), w.active,
                                 /*withElseRegion=*/true);
  rewriter.setInsertionPointToStart(&guard.getElseRegion().front());
  scf::YieldOp::create(rewriter, loc, acc);
  rewriter.setInsertionPointToStart(&guard.getThenRegion().front());

  Type element = cast<MemRefType>(gemm.a.getType()).getElementType();
  NVVM::MMATypes ptxType =
      element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  MLIRContext *ctx = rewriter.getContext();
  Type f32 = rewriter.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  Value zero = ib.cst(0);

  // A fragments (16 tokens x 16 of K each): ldmatrix.x4, lane l giving the
  // address of row l % 16, columns 8 * (l / 16) of its 16 x 16 block.
  SmallVector<SmallVector<Value>> aRegs;
  Value rowA = ib.add(w.tokens0, ib.rem(w.lane, 16));
  for (int64_t kk = 0; kk < gemm.k; kk += kWarpK) {
    Value colA = ib.add(ib.cst(kk), ib.mul(ib.div(w.lane, 16), 8));
    aRegs.push_back(
        loadFragment(rewriter, loc, gemm.a, ValueRange{zero, rowA, colA}, 4));
  }

  SmallVector<Value> results;
  for (int64_t j = 0; j < w.warpN / kFragmentN; ++j) {
    SmallVector<Value> c(acc.begin() + 4 * j, acc.begin() + 4 * j + 4);
    // B fragments (8 features x 16 of K): ldmatrix.x2, lanes 0-15 giving
    // rows n0 + l % 8, columns 8 * ((l / 8) % 2).
    Value n0 = ib.add(w.features0, ib.cst(j * kFragmentN));
    Value rowB = ib.add(n0, ib.rem(w.lane, 8));
    for (int64_t kk = 0, step = 0; kk < gemm.k; kk += kWarpK, ++step) {
      Value colB = ib.add(ib.cst(kk), ib.mul(ib.rem(ib.div(w.lane, 8), 2), 8));
      SmallVector<Value> bRegs =
          loadFragment(rewriter, loc, gemm.b, ValueRange{rowB, colB}, 2);
      Value d = NVVM::MmaOp::create(
          rewriter, loc, resultType, aRegs[step], bRegs, c,
          ArrayRef<int64_t>{kWarpTokens, kFragmentN, kWarpK},
          /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
          std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
          std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                         NVVM::MMALayout::col});
      for (int64_t r = 0; r < 4; ++r)
        c[r] = LLVM::ExtractValueOp::create(rewriter, loc, d,
                                            ArrayRef<int64_t>{r});
    }
    llvm::append_range(results, c);
  }
  scf::YieldOp::create(rewriter, loc, results);
  rewriter.setInsertionPointAfter(guard);
  return SmallVector<Value>(guard.getResults());
}

/// The accumulator fragments read from (or written to) the shared
/// accumulator by the block's 4 warps.
SmallVector<Value> loadFragments(RewriterBase &rewriter, Location loc,
                                 const BlockGemm &gemm, const WarpLayout &w) {
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Type f32 = rewriter.getF32Type();
  SmallVector<Type> types(4 * w.accAt.size(), f32);
  auto guard = scf::IfOp::create(rewriter, loc, types, w.active,
                                 /*withElseRegion=*/true);
  rewriter.setInsertionPointToStart(&guard.getElseRegion().front());
  Value fzero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0));
  scf::YieldOp::create(rewriter, loc, SmallVector<Value>(types.size(), fzero));
  rewriter.setInsertionPointToStart(&guard.getThenRegion().front());
  SmallVector<Value> values;
  for (const auto &slice : w.accAt)
    for (auto [row, col] : slice)
      values.push_back(memref::LoadOp::create(rewriter, loc, gemm.c,
                                              ValueRange{zero, row, col}));
  scf::YieldOp::create(rewriter, loc, values);
  rewriter.setInsertionPointAfter(guard);
  return SmallVector<Value>(guard.getResults());
}

void storeFragments(RewriterBase &rewriter, Location loc, const BlockGemm &gemm,
                    const WarpLayout &w, ValueRange acc) {
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  auto guard = scf::IfOp::create(rewriter, loc, w.active, /*else=*/false);
  rewriter.setInsertionPointToStart(&guard.getThenRegion().front());
  int64_t i = 0;
  for (const auto &slice : w.accAt)
    for (auto [row, col] : slice)
      memref::StoreOp::create(rewriter, loc, acc[i++], gemm.c,
                              ValueRange{zero, row, col});
  rewriter.setInsertionPointAfter(guard);
}

/// The op of the launch body that holds `op`, if `op` is in that body or
/// directly in the body of an scf.for there.
Operation *topLevel(Operation *op, Block *body) {
  if (op->getBlock() == body)
    return op;
  auto loop = dyn_cast<scf::ForOp>(op->getParentOp());
  if (loop && loop->getBlock() == body)
    return loop;
  return nullptr;
}

/// The K steps of one block GEMM (the pipelined loop's and its peeled
/// epilogue's): the accumulator fragments are loaded once before the first
/// step, carried in registers through the steps (and the loop's iteration
/// arguments), and stored once after the last.
LogicalResult emitBlockGemm(RewriterBase &rewriter, ArrayRef<BlockGemm> steps) {
  Block *body =
      &steps.front().op->getParentOfType<gpu::LaunchOp>().getBody().front();
  SmallVector<Operation *> tops;
  for (const BlockGemm &step : steps) {
    Operation *top = topLevel(step.region, body);
    if (!top || llvm::is_contained(tops, top))
      return failure(); // deeper, or two steps in one loop: not handled
    tops.push_back(top);
  }
  // Between the first step and the last, nothing else may touch the
  // accumulator: it lives in registers there.
  SmallVector<Value> views = {steps.front().c};
  while (!views.empty()) {
    Value v = views.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (llvm::any_of(steps, [&](const BlockGemm &step) {
            return step.region->isAncestor(user);
          }))
        continue;
      if (isa<ViewLikeOpInterface>(user)) { // no access of its own
        llvm::append_range(views, user->getResults());
        continue;
      }
      Operation *at = body->findAncestorOpInBlock(*user);
      if (!at || llvm::is_contained(tops, at) ||
          (tops.front()->isBeforeInBlock(at) &&
           at->isBeforeInBlock(tops.back())))
        return failure();
    }
  }
  Location loc = steps.front().op->getLoc();
  rewriter.setInsertionPoint(tops.front());
  WarpLayout w = warpLayout(rewriter, loc, steps.front());
  SmallVector<Value> acc = loadFragments(rewriter, loc, steps.front(), w);
  for (auto [step, top] : llvm::zip(steps, tops)) {
    if (top == step.region) {
      rewriter.setInsertionPoint(step.region);
      acc = emitWarpStep(rewriter, loc, step, w, acc);
      rewriter.eraseOp(step.region);
      continue;
    }
    // In the loop: the fragments become iteration arguments.
    auto loop = cast<scf::ForOp>(top);
    unsigned first = loop.getNumRegionIterArgs();
    FailureOr<LoopLikeOpInterface> grown = loop.replaceWithAdditionalYields(
        rewriter, acc, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument> args) {
          return SmallVector<Value>(args.begin(), args.end());
        });
    if (failed(grown))
      return failure();
    auto newLoop = cast<scf::ForOp>(grown->getOperation());
    ValueRange args = newLoop.getRegionIterArgs().drop_front(first);
    rewriter.setInsertionPoint(step.region);
    SmallVector<Value> updated = emitWarpStep(rewriter, loc, step, w, args);
    auto yield = cast<scf::YieldOp>(newLoop.getBody()->getTerminator());
    rewriter.modifyOpInPlace(yield, [&] {
      for (auto [i, value] : llvm::enumerate(updated))
        yield->setOperand(first + i, value);
    });
    rewriter.eraseOp(step.region);
    acc = SmallVector<Value>(newLoop.getResults().drop_front(first));
  }
  rewriter.setInsertionPointAfter(
      acc.front().getDefiningOp() ? acc.front().getDefiningOp() : tops.back());
  storeFragments(rewriter, loc, steps.front(), w, acc);
  // The block reads the accumulator next (its copy to global memory).
  gpu::BarrierOp::create(rewriter, loc);
  return success();
}

struct GpuMmaPass final : kiln::impl::GpuMmaBase<GpuMmaPass> {
  using Base::Base;

  void runOnOperation() override {
    // The K steps of each block GEMM: same accumulator, same launch.
    SmallVector<SmallVector<BlockGemm>> groups;
    getOperation()->walk([&](linalg::LinalgOp op) {
      std::optional<BlockGemm> gemm = matchBlockGemm(op);
      if (!gemm || !warpAlignedBlockX(op))
        return;
      for (auto &group : groups)
        if (group.front().c == gemm->c) {
          group.push_back(*gemm);
          return;
        }
      groups.push_back({*gemm});
    });
    IRRewriter rewriter(&getContext());
    for (auto &group : groups) {
      // In program order: by the launch-body op holding each step.
      Block *body =
          &group.front().op->getParentOfType<gpu::LaunchOp>().getBody().front();
      auto position = [&](const BlockGemm &g) -> Operation * {
        Operation *top = topLevel(g.region, body);
        return top ? top : g.region;
      };
      llvm::sort(group, [&](const BlockGemm &x, const BlockGemm &y) {
        Operation *px = position(x), *py = position(y);
        if (px == py || px->getBlock() != py->getBlock())
          return false;
        return px->isBeforeInBlock(py);
      });
      // Where the steps are placed otherwise (deeper loops, two in one
      // loop, other uses of the accumulator in between), nothing has been
      // changed yet and they keep their scalar FMAs.
      (void)emitBlockGemm(rewriter, group);
    }
  }
};
} // namespace
