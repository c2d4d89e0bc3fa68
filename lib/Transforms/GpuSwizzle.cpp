//===- GpuSwizzle.cpp - XOR-swizzled shared-memory tiles ------------------===//
//
// A warp that reads a column of a shared tile (each lane its own row, as a
// GEMM's threads read their weight rows) hits one bank 32 times when the
// row is a multiple of 128 bytes. Storing unit u of row r at unit
// u xor f(r) of the same row spreads such a column over the banks while
// row-wise accesses (the coalesced copies into the tile) stay a permutation
// of the row's banks. The pass picks f = (r floordiv phase) mod units by
// counting the conflicts each choice leaves (SharedMemoryBanks.h), so it
// needs no knowledge of how the kernel was tiled, and rewrites the index of
// every access of the tile; the layout is recorded as #llm.swizzle on the
// attribution. Padding rows is the fallback where no swizzle helps.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "kiln/Transforms/Passes.h"
#include "kiln/Transforms/SharedMemoryBanks.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_GPUSWIZZLE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr StringLiteral kPaddingAttrName = "llm.padding";

/// A candidate layout of a tile: row-major, swizzled or padded.
struct Layout {
  llm::SwizzleAttr swizzle;
  int64_t padding = 0;
};

int64_t layoutOffset(ArrayRef<int64_t> shape, const Layout &layout,
                     ArrayRef<int64_t> indices) {
  SmallVector<int64_t, 4> physical(indices);
  SmallVector<int64_t, 4> physicalShape(shape);
  if (layout.swizzle) {
    int64_t row = rowMajorOffset(shape.drop_back(), indices.drop_back());
    physical.back() = layout.swizzle.apply(row, indices.back());
  }
  physicalShape.back() += layout.padding;
  return rowMajorOffset(physicalShape, physical);
}

/// Extra wavefronts per warp summed over `accesses` of a tile under
/// `layout`.
int64_t conflicts(ArrayRef<const SharedAccess *> accesses,
                  ArrayRef<int64_t> shape, const Layout &layout) {
  int64_t total = 0;
  for (const SharedAccess *access : accesses)
    total += countWavefronts(*access, [&](ArrayRef<int64_t> indices) {
               return layoutOffset(shape, layout, indices);
             }).extra();
  return total;
}

/// Whether every lane's vector stays inside one swizzle unit of `unit`
/// elements (a swizzle moves units, not elements within them).
bool vectorsInsideUnits(ArrayRef<const SharedAccess *> accesses,
                        int64_t unit) {
  for (const SharedAccess *access : accesses) {
    if (access->elements == 1)
      continue;
    if (!access->unknown.empty())
      return false;
    for (const auto &lanes : access->points)
      for (const LaneIndices &lane : lanes)
        if (lane && lane->back() % unit + access->elements > unit)
          return false;
  }
  return true;
}

bool isTileAccess(Operation *op, Value buffer) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return load.getMemRef() == buffer;
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return store.getMemRef() == buffer && store.getValue() != buffer;
  if (auto load = dyn_cast<vector::LoadOp>(op))
    return load.getBase() == buffer;
  if (auto store = dyn_cast<vector::StoreOp>(op))
    return store.getBase() == buffer;
  return false;
}

/// Rewrites the innermost index of `op` (an access of a tile of `shape`)
/// to the swizzled column.
void swizzleAccess(Operation *op, ArrayRef<int64_t> shape,
                   llm::SwizzleAttr swizzle) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  int64_t rank = shape.size();
  unsigned first = op->getNumOperands() - rank;
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value row = op->getOperand(first);
  for (int64_t d = 1; d < rank - 1; ++d)
    row = b.createOrFold<arith::AddIOp>(
        loc, b.createOrFold<arith::MulIOp>(loc, row, constant(shape[d])),
        op->getOperand(first + d));
  Value column = op->getOperand(first + rank - 1);
  int64_t access = swizzle.getAccess();
  int64_t units = swizzle.getRow() / access;
  Value phase = swizzle.getPhase() == 1
                    ? row
                    : b.createOrFold<arith::DivUIOp>(
                          loc, row, constant(swizzle.getPhase()));
  phase = b.createOrFold<arith::RemUIOp>(loc, phase, constant(units));
  Value unit = access == 1 ? column
                           : b.createOrFold<arith::DivUIOp>(loc, column,
                                                            constant(access));
  Value swizzled = b.createOrFold<arith::XOrIOp>(loc, unit, phase);
  if (access != 1)
    swizzled = b.createOrFold<arith::AddIOp>(
        loc, b.createOrFold<arith::MulIOp>(loc, swizzled, constant(access)),
        b.createOrFold<arith::RemUIOp>(loc, column, constant(access)));
  op->setOperand(first + rank - 1, swizzled);
}

struct GpuSwizzlePass final : kiln::impl::GpuSwizzleBase<GpuSwizzlePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<gpu::GPUFuncOp> funcs;
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      if (func.isKernel() && !func.getWorkgroupAttributions().empty())
        funcs.push_back(func);
    });
    for (gpu::GPUFuncOp func : funcs)
      if (failed(runOnKernel(func)))
        return signalPassFailure();
  }

  LogicalResult runOnKernel(gpu::GPUFuncOp func) {
    // Accesses straight on the attributions, so that their indices can be
    // rewritten.
    RewritePatternSet patterns(&getContext());
    memref::populateFoldMemRefAliasOpPatterns(patterns);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      return func.emitError("kiln-gpu-swizzle: folding the subviews of @")
             << func.getName() << " did not converge";
    FailureOr<SmallVector<SharedAccess>> accesses =
        collectSharedAccesses(func);
    if (failed(accesses))
      return failure();
    for (auto [index, buffer] :
         llvm::enumerate(func.getWorkgroupAttributions())) {
      SmallVector<const SharedAccess *> tileAccesses;
      for (const SharedAccess &access : *accesses)
        if (access.buffer == buffer)
          tileAccesses.push_back(&access);
      if (failed(layoutTile(func, index, buffer, tileAccesses)))
        return failure();
    }
    return success();
  }

  LogicalResult layoutTile(gpu::GPUFuncOp func, unsigned index,
                           BlockArgument buffer,
                           ArrayRef<const SharedAccess *> accesses) {
    auto type = cast<MemRefType>(buffer.getType());
    auto pinned = dyn_cast_or_null<llm::SwizzleAttr>(
        func.getWorkgroupAttributionAttr(index,
                                         llm::SwizzleAttr::getAttrName()));
    bool direct = llvm::all_of(buffer.getUsers(), [&](Operation *user) {
      return isTileAccess(user, buffer);
    });
    if (type.getRank() < 2 || !type.hasStaticShape() ||
        !type.getLayout().isIdentity() || !direct) {
      if (pinned)
        return func.emitError("kiln-gpu-swizzle: workgroup buffer ")
               << index << " of @" << func.getName()
               << " cannot be swizzled (it needs a static row-major shape "
                  "of rank 2 or more, accessed only by loads and stores)";
      return success();
    }
    ArrayRef<int64_t> shape = type.getShape();
    int64_t rowElements = shape.back();
    int64_t numRows = 1;
    for (int64_t size : shape.drop_back())
      numRows *= size;

    if (pinned) {
      if (pinned.getRow() != rowElements ||
          !vectorsInsideUnits(accesses, pinned.getAccess()))
        return func.emitError("kiln-gpu-swizzle: ")
               << pinned << " does not fit workgroup buffer " << index
               << " of @" << func.getName() << ", of type " << type;
      applySwizzle(buffer, shape, pinned);
      return success();
    }

    int64_t before = conflicts(accesses, shape, Layout{});
    if (before == 0)
      return success();
    int64_t unit = 1;
    for (const SharedAccess *access : accesses)
      unit = std::max(unit, access->elements);
    Layout best;
    int64_t bestConflicts = before;
    if (rowElements % unit == 0 && rowElements / unit >= 2 &&
        llvm::isPowerOf2_64(rowElements / unit) &&
        vectorsInsideUnits(accesses, unit)) {
      for (int64_t phase = 1; phase <= numRows; phase *= 2) {
        Layout candidate{
            llm::SwizzleAttr::get(&getContext(), rowElements, unit, phase)};
        int64_t c = conflicts(accesses, shape, candidate);
        if (c < bestConflicts) {
          best = candidate;
          bestConflicts = c;
        }
      }
    }
    if (bestConflicts > 0 && padding) {
      // One unit of padding, at least a 4-byte word.
      int64_t elementBytes = std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
      Layout padded;
      padded.padding = std::max(unit, (4 + elementBytes - 1) / elementBytes);
      int64_t c = conflicts(accesses, shape, padded);
      if (c < bestConflicts) {
        best = padded;
        bestConflicts = c;
      }
    }
    if (best.swizzle) {
      applySwizzle(buffer, shape, best.swizzle);
      func.setWorkgroupAttributionAttr(index, llm::SwizzleAttr::getAttrName(),
                                       best.swizzle);
    } else if (best.padding > 0) {
      SmallVector<int64_t> paddedShape(shape);
      paddedShape.back() += best.padding;
      buffer.setType(MemRefType::get(paddedShape, type.getElementType(),
                                     MemRefLayoutAttrInterface(),
                                     type.getMemorySpace()));
      func.setWorkgroupAttributionAttr(
          index, kPaddingAttrName,
          IntegerAttr::get(IntegerType::get(&getContext(), 64),
                           best.padding));
    }
    return success();
  }

  void applySwizzle(BlockArgument buffer, ArrayRef<int64_t> shape,
                    llm::SwizzleAttr swizzle) {
    for (Operation *user : llvm::to_vector(buffer.getUsers()))
      swizzleAccess(user, shape, swizzle);
  }
};
} // namespace
