// RUN: kiln-opt %s --kiln-gpu-pipeline=stages=1 --canonicalize | FileCheck %s --check-prefix=S1
// RUN: kiln-opt %s --kiln-gpu-pipeline=stages=2 --canonicalize | FileCheck %s --check-prefix=S2
// RUN: kiln-opt %s --kiln-gpu-pipeline=stages=3 --canonicalize | FileCheck %s --check-prefix=S3
// RUN: kiln-opt %s --kiln-gpu-pipeline=stages=4 --canonicalize | FileCheck %s --check-prefix=S4
// RUN: kiln-opt %s "--kiln-gpu-pipeline=stages=3 async=false" --canonicalize | FileCheck %s --check-prefix=SYNC
// RUN: not kiln-opt %s --kiln-gpu-pipeline=stages=0 2>&1 | FileCheck %s --check-prefix=BAD

// A GEMM-like block: a K loop of 4 steps, each filling a shared tile with
// an llm.async_copy copy (thread forall) and then reading it (another
// thread forall).
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @k_loop(%a: memref<64x128xf32>, %out: memref<32x32xf32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  scf.forall (%b) in (2) {
    scf.for %k = %c0 to %c128 step %c32 {
      %src = memref.subview %a[0, %k] [64, 32] [1, 1] : memref<64x128xf32> to memref<64x32xf32, strided<[128, 1], offset: ?>>
      %tile = memref.alloc() : memref<16x32x4xf32>
      scf.forall (%y, %x) in (4, 32) {
        %r = affine.apply affine_map<(d0) -> (d0 * 4)>(%y)
        %mine = memref.subview %tile[%r, %x, 0] [4, 1, 4] [1, 1, 1] : memref<16x32x4xf32> to memref<4x1x4xf32, strided<[128, 4, 1], offset: ?>>
        linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%mine : memref<4x1x4xf32, strided<[128, 4, 1], offset: ?>>) attrs = {llm.async_copy} {
        ^bb0(%o: f32):
          %i0 = linalg.index 0 : index
          %i2 = linalg.index 2 : index
          %row = arith.addi %i0, %r : index
          %col = arith.addi %i2, %x : index
          %v = memref.load %src[%row, %col] : memref<64x32xf32, strided<[128, 1], offset: ?>>
          linalg.yield %v : f32
        }
      } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
      %flat = memref.collapse_shape %tile [[0, 1, 2]] : memref<16x32x4xf32> into memref<2048xf32>
      %t2 = memref.expand_shape %flat [[0, 1]] output_shape [64, 32] : memref<2048xf32> into memref<64x32xf32>
      scf.forall (%x) in (32) {
        %v = memref.load %t2[%x, %x] : memref<64x32xf32>
        %o = memref.load %out[%x, %x] : memref<32x32xf32>
        %s = arith.addf %v, %o : f32
        memref.store %s, %out[%x, %x] : memref<32x32xf32>
      } {mapping = [#gpu.thread<x>]}
    }
  } {mapping = [#gpu.block<x>]}
  return
}

// One stage: the tile is allocated once, before the loop; each step's
// copies are committed and waited for (cp.async groups) and made visible
// to the block (barrier) before the compute.
// S1-LABEL: func.func @k_loop
// S1:         memref.alloc() : memref<16x32x4xf32>
// S1-NEXT:    scf.for %{{.*}} = %c0 to %c128 step %c32 {
// S1:           scf.forall
// S1:             linalg.generic {{.*}} attrs = {llm.async_copy}
// S1:           nvvm.cp.async.commit.group
// S1:           nvvm.cp.async.wait.group 0
// S1-NEXT:      gpu.barrier
// S1-NEXT:      scf.forall (%{{.*}}) in (32)

// Two stages: two buffers; the prologue copies step 0 into buffer 0; each
// of the 3 steady-state iterations copies step i + 1 while step i's copies
// may still be in flight for one group (wait.group 1) and computes step i;
// the epilogue computes the last step once all groups landed (wait.group 0).
// S2-LABEL: func.func @k_loop
// S2:         %[[BUF:.*]] = memref.alloc() : memref<2x16x32x4xf32>
// S2:         memref.subview %[[BUF]][0, 0, 0, 0]
// S2:         scf.forall
// S2:           linalg.generic {{.*}} attrs = {llm.async_copy}
// S2:         nvvm.cp.async.commit.group
// S2-NEXT:    scf.for %[[I:.*]] = %c0 to %c96 step %c32 {
// S2:           memref.subview %[[BUF]][%{{.*}}, 0, 0, 0]
// S2:           scf.forall
// S2:             linalg.generic {{.*}} attrs = {llm.async_copy}
// S2:           nvvm.cp.async.commit.group
// S2:           memref.subview %[[BUF]][%{{.*}}, 0, 0, 0]
// S2:           nvvm.cp.async.wait.group 1
// S2-NEXT:      gpu.barrier
// S2-NEXT:      scf.forall (%{{.*}}) in (32)
// S2:         }
// S2:         memref.subview %[[BUF]][1, 0, 0, 0]
// S2:         nvvm.cp.async.wait.group 0
// S2-NEXT:    gpu.barrier
// S2-NEXT:    scf.forall (%{{.*}}) in (32)
// S2-NOT:     nvvm.cp.async
// S2:         return

// Three stages: the prologue copies steps 0 and 1 (two groups); the steady
// state runs twice, two groups in flight; the epilogue computes steps 2
// and 3 from buffers 2 and 0.
// S3-LABEL: func.func @k_loop
// S3:         %[[BUF:.*]] = memref.alloc() : memref<3x16x32x4xf32>
// S3-COUNT-2: nvvm.cp.async.commit.group
// S3:         scf.for %{{.*}} = %c0 to %c64 step %c32 {
// S3:           linalg.generic {{.*}} attrs = {llm.async_copy}
// S3:           nvvm.cp.async.commit.group
// S3:           nvvm.cp.async.wait.group 2
// S3-NEXT:      gpu.barrier
// S3-NEXT:      scf.forall (%{{.*}}) in (32)
// S3:         }
// S3:         memref.subview %[[BUF]][2, 0, 0, 0]
// S3:         nvvm.cp.async.wait.group 0
// S3-NEXT:    gpu.barrier
// S3:         memref.subview %[[BUF]][0, 0, 0, 0]
// S3:         nvvm.cp.async.wait.group 0
// S3-NEXT:    gpu.barrier
// S3-NOT:     nvvm.cp.async
// S3:         return

// Four stages: three copies in the prologue, one steady-state iteration
// (three groups in flight; canonicalization inlines the one-trip loop),
// three computes in the epilogue.
// S4-LABEL: func.func @k_loop
// S4:         memref.alloc() : memref<4x16x32x4xf32>
// S4-COUNT-3: nvvm.cp.async.commit.group
// S4:         linalg.generic {{.*}} attrs = {llm.async_copy}
// S4:         nvvm.cp.async.commit.group
// S4:         nvvm.cp.async.wait.group 3
// S4-NEXT:    gpu.barrier
// S4-COUNT-3: nvvm.cp.async.wait.group 0
// S4-NOT:     nvvm.cp.async
// S4:         return

// async=false (the GPU tiling run on the CPU): the same schedule and
// buffers, no cp.async groups or barriers.
// SYNC-LABEL: func.func @k_loop
// SYNC:         memref.alloc() : memref<3x16x32x4xf32>
// SYNC-NOT:     nvvm
// SYNC-NOT:     gpu.barrier
// SYNC:         scf.for %{{.*}} = %c0 to %c64 step %c32 {

// BAD: error: kiln-gpu-pipeline: 'stages' must be at least 1, got 0

// A K loop of 2 steps with 4 stages asked: 2 buffers (the stages a loop
// can use are at most its steps).
// S4-LABEL: func.func @short_loop
// S4:         memref.alloc() : memref<2x32xf32>
// S4:         nvvm.cp.async.wait.group 1
// S4:         nvvm.cp.async.wait.group 0
func.func @short_loop(%a: memref<32x64xf32>, %out: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.forall (%b) in (2) {
    scf.for %k = %c0 to %c64 step %c32 {
      %tile = memref.alloc() : memref<32xf32>
      scf.forall (%x) in (32) {
        %mine = memref.subview %tile[%x] [1] [1] : memref<32xf32> to memref<1xf32, strided<[1], offset: ?>>
        %e = memref.expand_shape %mine [[0, 1, 2]] output_shape [1, 1, 1] : memref<1xf32, strided<[1], offset: ?>> into memref<1x1x1xf32, strided<[1, 1, 1], offset: ?>>
        linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%e : memref<1x1x1xf32, strided<[1, 1, 1], offset: ?>>) attrs = {llm.async_copy} {
        ^bb0(%o: f32):
          %col = arith.addi %k, %x : index
          %v = memref.load %a[%x, %col] : memref<32x64xf32>
          linalg.yield %v : f32
        }
      } {mapping = [#gpu.thread<x>]}
      %t2 = memref.expand_shape %tile [[0, 1]] output_shape [1, 32] : memref<32xf32> into memref<1x32xf32>
      scf.forall (%x) in (32) {
        %v = memref.load %t2[%c0, %x] : memref<1x32xf32>
        memref.store %v, %out[%x] : memref<32xf32>
      } {mapping = [#gpu.thread<x>]}
    }
  } {mapping = [#gpu.block<x>]}
  return
}
