// RUN: kiln-opt %s --kiln-gpu-async-copy --canonicalize | FileCheck %s

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// A thread's part of a tile copy (kiln-gpu-promote-operands, after
// kiln-gpu-launch): 2 rows of one 16-byte vector each, from rows clamped to
// the block's %m tokens, zero past them. One cp.async per vector: the
// source address is the body's load at the vector's first element, and
// srcElements is 0 where the row is past %m (the copy fills zeros).
// CHECK-LABEL: func.func @padded_rows
// CHECK-SAME:    (%[[SRC:.*]]: memref<?x32xf32>, %[[DST:.*]]: memref<2x1x4xf32, strided<[128, 4, 1], offset: ?>, #gpu.address_space<workgroup>>, %[[M:.*]]: index, %[[T:.*]]: index)
// CHECK-NOT:     linalg.generic
// CHECK:         %[[V0:.*]] = arith.cmpi ult, %{{.*}}, %[[M]]
// CHECK:         %[[N0:.*]] = arith.select %[[V0]], %c4, %c0
// CHECK:         nvgpu.device_async_copy %[[SRC]][%{{.*}}, %{{.*}}], %[[DST]][%c0, %c0, %c0], 4, %[[N0]] {bypassL1}
// CHECK:         %[[N1:.*]] = arith.select %{{.*}}, %c4, %c0
// CHECK:         nvgpu.device_async_copy %[[SRC]][%{{.*}}, %{{.*}}], %[[DST]][%c1, %c0, %c0], 4, %[[N1]] {bypassL1}
// CHECK-NOT:     nvgpu.device_async_copy
func.func @padded_rows(%src: memref<?x32xf32>, %dst: memref<2x1x4xf32, strided<[128, 4, 1], offset: ?>, #gpu.address_space<workgroup>>, %m: index, %t: index) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%dst : memref<2x1x4xf32, strided<[128, 4, 1], offset: ?>, #gpu.address_space<workgroup>>) attrs = {llm.async_copy} {
  ^bb0(%o: f32):
    %i0 = linalg.index 0 : index
    %i2 = linalg.index 2 : index
    %r = arith.addi %i0, %t : index
    %flat = arith.muli %r, %c4 : index
    %e = arith.addi %flat, %i2 : index
    %row = arith.divui %e, %c32 : index
    %col = arith.remui %e, %c32 : index
    %valid = arith.cmpi ult, %row, %m : index
    %last = arith.subi %m, %c1 : index
    %clamped = arith.minui %row, %last : index
    %v = memref.load %src[%clamped, %col] : memref<?x32xf32>
    %s = arith.select %valid, %v, %zero : f32
    linalg.yield %s : f32
  }
  return
}

// 4-byte vectors (one bf16 pair; cp.async.ca: no L1 bypass), no padding.
// CHECK-LABEL: func.func @pairs
// CHECK-COUNT-4: nvgpu.device_async_copy %{{.*}}, 2 : memref<64x32xbf16> to memref<4x1x2xbf16
// CHECK-NOT:     bypassL1
// CHECK:         return
func.func @pairs(%src: memref<64x32xbf16>, %dst: memref<4x1x2xbf16, strided<[64, 2, 1], offset: ?>, #gpu.address_space<workgroup>>, %t: index) {
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%dst : memref<4x1x2xbf16, strided<[64, 2, 1], offset: ?>, #gpu.address_space<workgroup>>) attrs = {llm.async_copy} {
  ^bb0(%o: bf16):
    %i0 = linalg.index 0 : index
    %i2 = linalg.index 2 : index
    %r = arith.addi %i0, %t : index
    %flat = arith.muli %r, %c2 : index
    %e = arith.addi %flat, %i2 : index
    %row = arith.divui %e, %c32 : index
    %col = arith.remui %e, %c32 : index
    %v = memref.load %src[%row, %col] : memref<64x32xbf16>
    linalg.yield %v : bf16
  }
  return
}

// Left to the loops: a body that computes (not a copy), a destination in
// global memory, and 2-byte vectors (cp.async moves 4, 8 or 16 bytes).
// CHECK-LABEL: func.func @not_copies
// CHECK-NOT:     nvgpu.device_async_copy
// CHECK-COUNT-3: linalg.generic
func.func @not_copies(%src: memref<64x32xf32>, %dst: memref<2x1x4xf32, #gpu.address_space<workgroup>>, %global: memref<2x1x4xf32>, %src16: memref<64x32xbf16>, %dst16: memref<2x1x1xbf16, #gpu.address_space<workgroup>>) {
  %one = arith.constant 1.0 : f32
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%dst : memref<2x1x4xf32, #gpu.address_space<workgroup>>) attrs = {llm.async_copy} {
  ^bb0(%o: f32):
    %i0 = linalg.index 0 : index
    %i2 = linalg.index 2 : index
    %v = memref.load %src[%i0, %i2] : memref<64x32xf32>
    %w = arith.addf %v, %one : f32
    linalg.yield %w : f32
  }
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%global : memref<2x1x4xf32>) attrs = {llm.async_copy} {
  ^bb0(%o: f32):
    %i0 = linalg.index 0 : index
    %i2 = linalg.index 2 : index
    %v = memref.load %src[%i0, %i2] : memref<64x32xf32>
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%dst16 : memref<2x1x1xbf16, #gpu.address_space<workgroup>>) attrs = {llm.async_copy} {
  ^bb0(%o: bf16):
    %i0 = linalg.index 0 : index
    %v = memref.load %src16[%i0, %i0] : memref<64x32xbf16>
    linalg.yield %v : bf16
  }
  return
}
