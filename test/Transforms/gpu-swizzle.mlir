// RUN: kiln-opt %s --kiln-gpu-swizzle | FileCheck %s
// RUN: kiln-opt %s --kiln-gpu-bank-conflicts=accesses=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=BEFORE
// RUN: kiln-opt %s --kiln-gpu-swizzle --kiln-gpu-bank-conflicts=accesses=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=AFTER
// RUN: kiln-opt %s --kiln-gpu-swizzle=padding=false --kiln-gpu-bank-conflicts=accesses=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOPAD

gpu.module @kernels {
  // Lane l writes row 3 word l, then reads row l word 0: the column read
  // hits bank 0 32 times. Swizzled with a phase of 1 line (here a line is a
  // row), word c of line l is stored at c xor l: the column is spread over
  // the 32 banks, and the row-wise write stays a permutation of them. The
  // tile becomes flat, indexed by the swizzled offset.
  // BEFORE: @column: 2 shared-memory accesses, 1 with bank conflicts, 31 extra wavefronts per warp
  // AFTER: @column: 2 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp
  // CHECK-LABEL: gpu.func @column
  // CHECK-SAME:    workgroup(%[[TILE:.*]] : memref<1024xf32, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 32, access = 1, phase = 1>})
  // CHECK:         %[[TX:.*]] = gpu.thread_id x
  // CHECK:         %[[OFF:.*]] = arith.addi %[[TX]], %c96
  // CHECK:         %[[LINE:.*]] = arith.divui %[[OFF]], %c32
  // CHECK:         %[[WORD:.*]] = arith.remui %[[OFF]], %c32
  // CHECK:         %[[PHASE:.*]] = arith.remui %[[LINE]], %c32
  // CHECK:         %[[X:.*]] = arith.xori %[[WORD]], %[[PHASE]]
  // CHECK:         %[[BASE:.*]] = arith.muli %[[LINE]], %c32
  // CHECK:         %[[IDX:.*]] = arith.addi %[[BASE]], %[[X]]
  // CHECK:         memref.store %{{.*}}, %[[TILE]][%[[IDX]]] : memref<1024xf32, #gpu.address_space<workgroup>>
  // CHECK:         memref.load %[[TILE]][%{{.*}}] : memref<1024xf32, #gpu.address_space<workgroup>>
  gpu.func @column(%out: memref<32xf32>) workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c3 = arith.constant 3 : index
    %zero = arith.constant 0.0 : f32
    %tx = gpu.thread_id x
    memref.store %zero, %tile[%c3, %tx] : memref<32x32xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %v = memref.load %tile[%tx, %c0] : memref<32x32xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tx] : memref<32xf32>
    gpu.return
  }

  // As a prefill GEMM's threads read their weight rows: lane l reads rows
  // 2l and 2l + 1 (through a subview, in a loop) at one column. Rows 2l
  // and 2l + 32 share a xor value with a phase of 1, so the pass picks a
  // phase of 2 rows. The subview is folded into the accesses first.
  // BEFORE: @pairs: 2 shared-memory accesses, 1 with bank conflicts, 31 extra wavefronts per warp
  // AFTER: @pairs: 2 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp
  // CHECK-LABEL: gpu.func @pairs
  // CHECK-SAME:    memref<2048xf32, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 32, access = 1, phase = 2>}
  // CHECK-NOT:     memref.subview
  // CHECK:         arith.divui %{{.*}}, %c2
  // CHECK:         arith.xori
  // CHECK:         memref.store
  // CHECK:         arith.divui %{{.*}}, %c2
  // CHECK:         arith.xori
  // CHECK:         memref.load
  gpu.func @pairs(%w: memref<64x32xf32>, %out: memref<32xf32>) workgroup(%tile : memref<64x32xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c64 = arith.constant 64 : index
    %c32 = arith.constant 32 : index
    %tx = gpu.thread_id x
    // Coalesced copy in: lane l, column l of each row.
    scf.for %r = %c0 to %c64 step %c1 {
      %v = memref.load %w[%r, %tx] : memref<64x32xf32>
      memref.store %v, %tile[%r, %tx] : memref<64x32xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    %row = arith.muli %tx, %c2 : index
    %mine = memref.subview %tile[%row, 0] [2, 32] [1, 1] : memref<64x32xf32, #gpu.address_space<workgroup>> to memref<2x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %zero = arith.constant 0.0 : f32
    %sum = scf.for %n = %c0 to %c2 step %c1 iter_args(%acc = %zero) -> f32 {
      %s = scf.for %k = %c0 to %c32 step %c1 iter_args(%a = %acc) -> f32 {
        %v = memref.load %mine[%n, %k] : memref<2x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
        %t = arith.addf %a, %v : f32
        scf.yield %t : f32
      }
      scf.yield %s : f32
    }
    memref.store %sum, %out[%tx] : memref<32xf32>
    gpu.return
  }

  // 16-byte vectors, each lane its own row: the unit of the swizzle is the
  // vector (access = 4), 8 units per 128-byte line, and a row is 4 lines,
  // so lines 4 apart must differ (phase = 4).
  // BEFORE: @vectors: 2 shared-memory accesses, 1 with bank conflicts, 28 extra wavefronts per warp
  // AFTER: @vectors: 2 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp
  // CHECK-LABEL: gpu.func @vectors
  // CHECK-SAME:    {llm.swizzle = #llm.swizzle<line = 32, access = 4, phase = 4>}
  // CHECK:         %[[U:.*]] = arith.divui %{{.*}}, %c4
  // CHECK:         %[[P:.*]] = arith.divui %{{.*}}, %c4
  // CHECK:         %[[PM:.*]] = arith.remui %[[P]], %c8
  // CHECK:         %[[X:.*]] = arith.xori %[[U]], %[[PM]]
  // CHECK:         arith.muli %[[X]], %c4
  // CHECK:         vector.store
  // CHECK:         vector.load
  gpu.func @vectors(%out: memref<128xf32>) workgroup(%tile : memref<32x128xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %tx = gpu.thread_id x
    %col = arith.muli %tx, %c4 : index
    %z = arith.constant dense<0.0> : vector<4xf32>
    vector.store %z, %tile[%c0, %col] : memref<32x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    gpu.barrier
    %w = vector.load %tile[%tx, %c0] : memref<32x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    vector.store %w, %out[%c0] : memref<128xf32>, vector<4xf32>
    gpu.return
  }

  // 33 rows of 48 words are not a whole number of 128-byte lines, so no
  // swizzle applies; padding each row by one word (a stride of 49) spreads
  // the column. Without padding (padding=false) the conflicts stay.
  // BEFORE: @padded: 1 shared-memory accesses, 1 with bank conflicts, 15 extra wavefronts per warp
  // AFTER: @padded: 1 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp
  // NOPAD: @padded: 1 shared-memory accesses, 1 with bank conflicts, 15 extra wavefronts per warp
  // CHECK-LABEL: gpu.func @padded
  // CHECK-SAME:    workgroup(%[[T:.*]] : memref<33x49xf32, #gpu.address_space<workgroup>> {llm.padding = 1 : i64})
  // CHECK:         memref.load %[[T]][%{{.*}}, %c5] : memref<33x49xf32, #gpu.address_space<workgroup>>
  gpu.func @padded(%out: memref<32xf32>) workgroup(%tile : memref<33x48xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c5 = arith.constant 5 : index
    %tx = gpu.thread_id x
    %v = memref.load %tile[%tx, %c5] : memref<33x48xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tx] : memref<32xf32>
    gpu.return
  }

  // A swizzle pinned on the attribution is applied as given, conflicts or
  // not; a tile without conflicts is left alone.
  // CHECK-LABEL: gpu.func @pinned
  // CHECK-SAME:    workgroup(%[[P:.*]] : memref<512xbf16, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 64, access = 8, phase = 4>}, %[[F:.*]] : memref<8x64xbf16, #gpu.address_space<workgroup>>)
  // CHECK:         arith.divui %{{.*}}, %c4
  // CHECK:         arith.xori
  // CHECK:         memref.load %[[P]]
  // CHECK-NOT:     arith.xori
  // CHECK:         memref.load %[[F]][%c1, %{{.*}}]
  gpu.func @pinned(%out: memref<64xbf16>) workgroup(%tile : memref<8x64xbf16, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 64, access = 8, phase = 4>}, %free : memref<8x64xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c1 = arith.constant 1 : index
    %tx = gpu.thread_id x
    %ty = gpu.thread_id y
    %v = memref.load %tile[%ty, %tx] : memref<8x64xbf16, #gpu.address_space<workgroup>>
    %u = memref.load %free[%c1, %tx] : memref<8x64xbf16, #gpu.address_space<workgroup>>
    %s = arith.addf %v, %u : bf16
    memref.store %s, %out[%tx] : memref<64xbf16>
    gpu.return
  }

  // The classic case for ldmatrix: a bf16 tile with 128-byte rows filled by
  // 16-byte cp.async copies (lanes along rows) and read by 16-byte vectors
  // down a column (each lane its own row): 8 lanes of a phase hit the same
  // 4 banks. The swizzle's unit is the 16-byte vector (8 bf16) and the
  // cp.async destination is rewritten like any store.
  // BEFORE: @cp_async: 2 shared-memory accesses, 1 with bank conflicts, 28 extra wavefronts per warp
  // AFTER: @cp_async: 2 shared-memory accesses, 0 with bank conflicts, 0 extra wavefronts per warp
  // CHECK-LABEL: gpu.func @cp_async
  // CHECK-SAME:    memref<2048xbf16, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 64, access = 8, phase = 1>}
  // CHECK:         nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}], %{{.*}}[%{{.*}}], 8 {bypassL1} : memref<32x64xbf16> to memref<2048xbf16, #gpu.address_space<workgroup>>
  // CHECK:         vector.load %{{.*}}[%{{.*}}] : memref<2048xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
  gpu.func @cp_async(%src: memref<32x64xbf16>, %out: memref<8xbf16>) workgroup(%tile : memref<32x64xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c8 = arith.constant 8 : index
    %tx = gpu.thread_id x
    %row = arith.divui %tx, %c8 : index
    %u = arith.remui %tx, %c8 : index
    %col = arith.muli %u, %c8 : index
    %t = nvgpu.device_async_copy %src[%row, %col], %tile[%row, %col], 8 {bypassL1} : memref<32x64xbf16> to memref<32x64xbf16, #gpu.address_space<workgroup>>
    nvvm.cp.async.commit.group
    nvvm.cp.async.wait.group 0
    gpu.barrier
    %v = vector.load %tile[%tx, %c0] : memref<32x64xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
    vector.store %v, %out[%c0] : memref<8xbf16>, vector<8xbf16>
    gpu.return
  }
}
