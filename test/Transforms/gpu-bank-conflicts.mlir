// RUN: kiln-opt %s --kiln-gpu-bank-conflicts -verify-diagnostics -o /dev/null
// RUN: kiln-opt %s --kiln-gpu-bank-conflicts=accesses=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY

// With accesses=false, one remark per kernel:
// SUMMARY-NOT: remark: shared
// SUMMARY: @column: 2 shared-memory accesses, 1 with bank conflicts, 31 extra wavefronts per warp
// SUMMARY-NOT: remark: shared

gpu.module @kernels {
  // A warp reads a column of a 32 x 32 f32 tile, lane l row l: every row
  // starts in bank 0, so the 32 words share one bank.
  // expected-remark @below {{kiln-gpu-bank-conflicts: @column: 2 shared-memory accesses, 1 with bank conflicts, 31 extra wavefronts per warp, 0 not analyzed}}
  gpu.func @column(%out: memref<32xf32>) workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c3 = arith.constant 3 : index
    %zero = arith.constant 0.0 : f32
    %tx = gpu.thread_id x
    // Row-wise: lane l writes word l of row 3.
    // expected-remark @below {{shared store of workgroup buffer 0: 1 wavefronts per warp, 1 without conflicts (0 extra)}}
    memref.store %zero, %tile[%c3, %tx] : memref<32x32xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    // expected-remark @below {{shared load of workgroup buffer 0: 32 wavefronts per warp, 1 without conflicts (31 extra)}}
    %v = memref.load %tile[%tx, %c0] : memref<32x32xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tx] : memref<32xf32>
    gpu.return
  }

  // Through a subview inside a loop, lanes 2 columns apart (a thread's two
  // outputs side by side): 2 words per bank. Every lane reading one word is
  // a broadcast. Lanes past 16 skip the access (scf.if).
  // expected-remark @below {{kiln-gpu-bank-conflicts: @stride_two: 3 shared-memory accesses, 1 with bank conflicts, 1 extra wavefronts per warp, 0 not analyzed}}
  gpu.func @stride_two(%out: memref<64xf32>) workgroup(%tile : memref<4x64xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 2, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c16 = arith.constant 16 : index
    %tx = gpu.thread_id x
    %ty = gpu.thread_id y
    %col = arith.muli %tx, %c2 : index
    %row = memref.subview %tile[%ty, 0] [1, 64] [1, 1] : memref<4x64xf32, #gpu.address_space<workgroup>> to memref<64xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>
    scf.for %j = %c0 to %c2 step %c1 {
      %i = arith.addi %col, %j : index
      // expected-remark @below {{shared load of workgroup buffer 0: 2 wavefronts per warp, 1 without conflicts (1 extra)}}
      %v = memref.load %row[%i] : memref<64xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>
      memref.store %v, %out[%i] : memref<64xf32>
    }
    // expected-remark @below {{shared load of workgroup buffer 0: 1 wavefronts per warp, 1 without conflicts (0 extra)}}
    %b = memref.load %tile[%c0, %c0] : memref<4x64xf32, #gpu.address_space<workgroup>>
    %half = arith.cmpi ult, %tx, %c16 : index
    scf.if %half {
      // Lanes 0..15, 2 apart: 16 words in 16 banks.
      // expected-remark @below {{shared store of workgroup buffer 0: 1 wavefronts per warp, 1 without conflicts (0 extra)}}
      memref.store %b, %row[%col] : memref<64xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>
    }
    gpu.return
  }

  // 16-byte vectors: a warp is served in 4 phases of 8 lanes (128 bytes
  // each), so consecutive vectors need 4 wavefronts and no more; bf16
  // scalars: two lanes share a word.
  // expected-remark @below {{kiln-gpu-bank-conflicts: @wide_and_narrow: 3 shared-memory accesses, 1 with bank conflicts, 28 extra wavefronts per warp, 0 not analyzed}}
  gpu.func @wide_and_narrow(%out: memref<128xf32>, %out16: memref<64xbf16>) workgroup(%tile : memref<32x128xf32, #gpu.address_space<workgroup>>, %half : memref<64xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %tx = gpu.thread_id x
    %col = arith.muli %tx, %c4 : index
    // expected-remark @below {{shared load of workgroup buffer 0: 4 wavefronts per warp, 4 without conflicts (0 extra)}}
    %v = vector.load %tile[%c0, %col] : memref<32x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    vector.store %v, %out[%c0] : memref<128xf32>, vector<4xf32>
    // Each lane its own row: each phase's 8 lanes read 8 words from each of the same 4 banks.
    // expected-remark @below {{shared load of workgroup buffer 0: 32 wavefronts per warp, 4 without conflicts (28 extra)}}
    %w = vector.load %tile[%tx, %c0] : memref<32x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    vector.store %w, %out[%c0] : memref<128xf32>, vector<4xf32>
    // expected-remark @below {{shared load of workgroup buffer 1: 1 wavefronts per warp, 1 without conflicts (0 extra)}}
    %h = memref.load %half[%tx] : memref<64xbf16, #gpu.address_space<workgroup>>
    memref.store %h, %out16[%tx] : memref<64xbf16>
    gpu.return
  }

  // An index loaded from memory cannot be evaluated.
  // expected-remark @below {{kiln-gpu-bank-conflicts: @data_dependent: 1 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp, 1 not analyzed}}
  gpu.func @data_dependent(%idx: memref<32xindex>, %out: memref<32xf32>) workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %tx = gpu.thread_id x
    %i = memref.load %idx[%tx] : memref<32xindex>
    // expected-remark @below {{shared load: not analyzed (its indices depend on values the analysis cannot evaluate)}}
    %v = memref.load %tile[%i, %c0] : memref<32x32xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tx] : memref<32xf32>
    gpu.return
  }
}

