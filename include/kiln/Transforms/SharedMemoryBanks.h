//===- SharedMemoryBanks.h - static bank-conflict analysis ------*- C++ -*-===//
//
// Which shared-memory words each lane of each warp of a kernel touches, and
// how many wavefronts (bank passes) an access then needs: the model behind
// kiln-gpu-bank-conflicts (reporting) and kiln-gpu-swizzle (choosing a
// layout). Addresses are found by evaluating the index arithmetic of an
// access for concrete lanes: thread ids from the lane, block ids 0, index
// kernel arguments and dynamic sizes kUnknownSize, loop induction variables
// at their first (and second) iteration. See docs/passes/gpu-bank-conflicts.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TRANSFORMS_SHAREDMEMORYBANKS_H
#define KILN_TRANSFORMS_SHAREDMEMORYBANKS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::gpu {
class GPUFuncOp;
} // namespace mlir::gpu

namespace kiln {

/// The value given to quantities the analysis cannot know (index kernel
/// arguments, dynamic sizes): a large sequence length, so that tiles clamped
/// by it are full.
constexpr int64_t kUnknownSize = 4096;

/// The element indices one lane accesses on its workgroup buffer, or none
/// where the lane does not execute the access.
using LaneIndices = std::optional<llvm::SmallVector<int64_t, 4>>;

/// One access of a kernel to a workgroup buffer (memref.load/store,
/// vector.load/store), with the indices of every lane at every evaluation
/// point (a warp of the block, at the first or second iteration of the
/// enclosing loops).
struct SharedAccess {
  mlir::Operation *op = nullptr;
  /// The workgroup attribution (a block argument of the gpu.func).
  mlir::BlockArgument buffer;
  /// Its position among the function's workgroup attributions.
  unsigned bufferIndex = 0;
  int64_t elementBytes = 0;
  /// Elements per lane (a vector access's width).
  int64_t elements = 1;
  bool isWrite = false;
  /// How often a thread executes the access: the product of the trip
  /// counts of the enclosing loops (evaluated for thread 0; 1 where
  /// unknown). Layout choices weigh the conflicts of hot accesses by it.
  int64_t weight = 1;
  /// Why the lanes' indices are unknown; empty when they are known.
  std::string unknown;
  /// points[p][lane]
  std::vector<llvm::SmallVector<LaneIndices, 32>> points;
};

/// What a shared-memory access op touches: its memref (the shared side of
/// a cp.async), indices, elements per lane and direction.
struct AccessOperands {
  mlir::Value memref;
  mlir::Operation::operand_range indices;
  int64_t elements;
  bool isWrite;
};

/// The access operands of memref.load/store, vector.load/store,
/// nvgpu.device_async_copy (its destination) and nvgpu.ldmatrix; none for
/// other ops.
std::optional<AccessOperands> accessOperands(mlir::Operation *op);

/// The memref a view op (subview, cast, expand or collapse shape: the views
/// the analysis and the swizzle see through) views; null for other ops.
mlir::Value viewSource(mlir::Operation *op);

/// Every access of `func` to its workgroup attributions, through views.
/// Fails (with an error on `func`) when the block size is unknown.
mlir::FailureOr<llvm::SmallVector<SharedAccess>>
collectSharedAccesses(mlir::gpu::GPUFuncOp func);

/// Wavefronts a warp needs for one access, and the fewest possible.
struct Wavefronts {
  int64_t actual = 0;
  int64_t ideal = 0;
  int64_t extra() const { return actual - ideal; }
};

/// Maps element indices on a buffer to an element offset (its layout).
using LayoutFn = llvm::function_ref<int64_t(llvm::ArrayRef<int64_t>)>;

/// The worst evaluation point of `access` under `layout`: lanes are grouped
/// into the phases the hardware serves together (32 lanes for accesses of up
/// to 4 bytes, 128 bytes' worth of lanes for wider ones); a phase needs as
/// many wavefronts as the most distinct 4-byte words any one of the 32
/// banks holds among its lanes' words.
Wavefronts countWavefronts(const SharedAccess &access, LayoutFn layout);

/// The row-major offset of `indices` in a buffer of static `shape`.
int64_t rowMajorOffset(llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<int64_t> indices);

} // namespace kiln

#endif // KILN_TRANSFORMS_SHAREDMEMORYBANKS_H
