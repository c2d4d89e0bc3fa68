// RUN: kiln-opt %s --kiln-gpu-mma --canonicalize | FileCheck %s

#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#b = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// A prefill GEMM block after kiln-gpu-launch: 4 x 32 threads, thread
// (y, x) multiplying tokens 8y.. by features 2x.. of the block's shared
// tiles with scalar FMAs. Replaced by 4 warps (thread y), warp w taking
// tokens 16 (w / 2) and features 32 (w % 2): its accumulator fragments
// (rows l / 4 and l / 4 + 8, columns 2 (l % 4) and the next, for each of
// 4 slices of 8 features) loaded into registers, A fragments by
// ldmatrix.x4 at row l % 16, column 8 (l / 16) (+16 for the second half
// of K), each 8-feature B fragment by ldmatrix.x2, 2 mma.sync m16n8k16
// per slice (K = 32), and the fragments stored back. (Canonicalization
// merges the three guards of load, step and store into one.)
// CHECK-LABEL: func.func @bf16_block
// CHECK:         gpu.launch
// CHECK:           %[[LANE:.*]] = gpu.thread_id x
// CHECK:           %[[WARP:.*]] = gpu.thread_id y
// CHECK:           scf.if
// CHECK-COUNT-16:    memref.load %{{.*}} : memref<1x32x64xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-2:     nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<1x32x32xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK:             nvgpu.ldmatrix %{{.*}} {numTiles = 2 : i32, transpose = false} : memref<64x32xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
// CHECK:             vector.bitcast %{{.*}} : vector<2x2xbf16> to vector<2x1xi32>
// CHECK:             nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK-COUNT-7:     nvvm.mma.sync
// CHECK-COUNT-16:    memref.store %{{.*}} : memref<1x32x64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT:       linalg.contract
// CHECK:           gpu.barrier
func.func @bf16_block(%a: memref<1x32x32xbf16, #gpu.address_space<workgroup>>, %b: memref<64x32xbf16, #gpu.address_space<workgroup>>, %acc: memref<1x32x64xf32, #gpu.address_space<workgroup>>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c4, %sz = %c1) {
    %x = gpu.thread_id x
    %y = gpu.thread_id y
    %in = arith.cmpi ult, %y, %c4 : index
    scf.if %in {
      %r = affine.apply affine_map<()[s0] -> (s0 * 8)>()[%y]
      %f = affine.apply affine_map<()[s0] -> (s0 * 2)>()[%x]
      %sa = memref.subview %a[0, %r, 0] [1, 8, 32] [1, 1, 1] : memref<1x32x32xbf16, #gpu.address_space<workgroup>> to memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sb = memref.subview %b[%f, 0] [2, 32] [1, 1] : memref<64x32xbf16, #gpu.address_space<workgroup>> to memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sc = memref.subview %acc[0, %r, %f] [1, 8, 2] [1, 1, 1] : memref<1x32x64xf32, #gpu.address_space<workgroup>> to memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>
      linalg.contract indexing_maps = [#a, #b, #c] ins(%sa, %sb : memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
    }
    gpu.barrier
    gpu.terminator
  }
  return
}

// f32 operands (tensor cores would round them to tf32): left alone.
// CHECK-LABEL: func.func @f32_block
// CHECK-NOT:     nvvm.mma.sync
// CHECK:         linalg.contract
func.func @f32_block(%a: memref<1x32x32xf32, #gpu.address_space<workgroup>>, %b: memref<64x32xf32, #gpu.address_space<workgroup>>, %acc: memref<1x32x64xf32, #gpu.address_space<workgroup>>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c4, %sz = %c1) {
    %x = gpu.thread_id x
    %y = gpu.thread_id y
    %r = affine.apply affine_map<()[s0] -> (s0 * 8)>()[%y]
    %f = affine.apply affine_map<()[s0] -> (s0 * 2)>()[%x]
    %sa = memref.subview %a[0, %r, 0] [1, 8, 32] [1, 1, 1] : memref<1x32x32xf32, #gpu.address_space<workgroup>> to memref<1x8x32xf32, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %sb = memref.subview %b[%f, 0] [2, 32] [1, 1] : memref<64x32xf32, #gpu.address_space<workgroup>> to memref<2x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %sc = memref.subview %acc[0, %r, %f] [1, 8, 2] [1, 1, 1] : memref<1x32x64xf32, #gpu.address_space<workgroup>> to memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>
    linalg.contract indexing_maps = [#a, #b, #c] ins(%sa, %sb : memref<1x8x32xf32, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<2x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
    gpu.terminator
  }
  return
}

// The K loop of a pipelined block (a step in the loop and one in the
// peeled epilogue): the fragments are loaded once before the loop, carried
// through it as iteration arguments, and stored once after the epilogue.
// CHECK-LABEL: func.func @k_loop
// CHECK:         gpu.launch
// CHECK:           scf.if %{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32,
// CHECK-COUNT-16:    memref.load
// CHECK:           %[[R:.*]]:16 = scf.for {{.*}} iter_args({{.*}}) -> (f32, f32,
// CHECK:             scf.if %{{.*}} -> (f32,
// CHECK-COUNT-8:       nvvm.mma.sync
// CHECK:             gpu.barrier
// CHECK:             scf.yield
// CHECK:           scf.if
// CHECK-COUNT-8:     nvvm.mma.sync
// CHECK-COUNT-16:    memref.store
// CHECK-NOT:       linalg.contract
func.func @k_loop(%a: memref<2x1x32x32xbf16, #gpu.address_space<workgroup>>, %b: memref<2x64x32xbf16, #gpu.address_space<workgroup>>, %acc: memref<1x32x64xf32, #gpu.address_space<workgroup>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c96 = arith.constant 96 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c4, %sz = %c1) {
    %x = gpu.thread_id x
    %y = gpu.thread_id y
    scf.for %k = %c0 to %c96 step %c32 {
      %s = arith.remui %k, %c1 : index
      %ta = memref.subview %a[%s, 0, 0, 0] [1, 1, 32, 32] [1, 1, 1, 1] : memref<2x1x32x32xbf16, #gpu.address_space<workgroup>> to memref<1x32x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %tb = memref.subview %b[%s, 0, 0] [1, 64, 32] [1, 1, 1] : memref<2x64x32xbf16, #gpu.address_space<workgroup>> to memref<64x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %r = affine.apply affine_map<()[s0] -> (s0 * 8)>()[%y]
      %f = affine.apply affine_map<()[s0] -> (s0 * 2)>()[%x]
      %sa = memref.subview %ta[0, %r, 0] [1, 8, 32] [1, 1, 1] : memref<1x32x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>> to memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sb = memref.subview %tb[%f, 0] [2, 32] [1, 1] : memref<64x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>> to memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sc = memref.subview %acc[0, %r, %f] [1, 8, 2] [1, 1, 1] : memref<1x32x64xf32, #gpu.address_space<workgroup>> to memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>
      linalg.contract indexing_maps = [#a, #b, #c] ins(%sa, %sb : memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
      gpu.barrier
    }
    %ta = memref.subview %a[1, 0, 0, 0] [1, 1, 32, 32] [1, 1, 1, 1] : memref<2x1x32x32xbf16, #gpu.address_space<workgroup>> to memref<1x32x32xbf16, strided<[1024, 32, 1], offset: 1024>, #gpu.address_space<workgroup>>
    %tb = memref.subview %b[1, 0, 0] [1, 64, 32] [1, 1, 1] : memref<2x64x32xbf16, #gpu.address_space<workgroup>> to memref<64x32xbf16, strided<[32, 1], offset: 2048>, #gpu.address_space<workgroup>>
    %r = affine.apply affine_map<()[s0] -> (s0 * 8)>()[%y]
    %f = affine.apply affine_map<()[s0] -> (s0 * 2)>()[%x]
    %sa = memref.subview %ta[0, %r, 0] [1, 8, 32] [1, 1, 1] : memref<1x32x32xbf16, strided<[1024, 32, 1], offset: 1024>, #gpu.address_space<workgroup>> to memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %sb = memref.subview %tb[%f, 0] [2, 32] [1, 1] : memref<64x32xbf16, strided<[32, 1], offset: 2048>, #gpu.address_space<workgroup>> to memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %sc = memref.subview %acc[0, %r, %f] [1, 8, 2] [1, 1, 1] : memref<1x32x64xf32, #gpu.address_space<workgroup>> to memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>
    linalg.contract indexing_maps = [#a, #b, #c] ins(%sa, %sb : memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
    gpu.barrier
    gpu.terminator
  }
  return
}

// Left alone (scalar FMAs): the guard also fills the accumulator, which
// the warp code would drop.
// CHECK-LABEL: func.func @other_ops_in_guard
// CHECK-NOT:     nvvm.mma.sync
// CHECK:         linalg.fill
// CHECK:         linalg.contract
func.func @other_ops_in_guard(%a: memref<1x32x32xbf16, #gpu.address_space<workgroup>>, %b: memref<64x32xbf16, #gpu.address_space<workgroup>>, %acc: memref<1x32x64xf32, #gpu.address_space<workgroup>>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c4, %sz = %c1) {
    %x = gpu.thread_id x
    %y = gpu.thread_id y
    %in = arith.cmpi ult, %y, %c4 : index
    scf.if %in {
      %r = affine.apply affine_map<()[s0] -> (s0 * 8)>()[%y]
      %f = affine.apply affine_map<()[s0] -> (s0 * 2)>()[%x]
      %sa = memref.subview %a[0, %r, 0] [1, 8, 32] [1, 1, 1] : memref<1x32x32xbf16, #gpu.address_space<workgroup>> to memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sb = memref.subview %b[%f, 0] [2, 32] [1, 1] : memref<64x32xbf16, #gpu.address_space<workgroup>> to memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
      %sc = memref.subview %acc[0, %r, %f] [1, 8, 2] [1, 1, 1] : memref<1x32x64xf32, #gpu.address_space<workgroup>> to memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>
      linalg.fill ins(%zero : f32) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
      linalg.contract indexing_maps = [#a, #b, #c] ins(%sa, %sb : memref<1x8x32xbf16, strided<[1024, 32, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<2x32xbf16, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%sc : memref<1x8x2xf32, strided<[2048, 64, 1], offset: ?>, #gpu.address_space<workgroup>>)
    }
    gpu.barrier
    gpu.terminator
  }
  return
}
