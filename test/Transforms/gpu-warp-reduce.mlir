// RUN: kiln-opt %s --split-input-file --kiln-gpu-warp-reduce | FileCheck %s

// A decode GEMV's merge (after bufferization): the one-thread forall that
// adds 32 lanes' partials, after a fill of the output, becomes 32 lanes
// with a butterfly of shuffles; lane 0 adds the fill value and stores.
// CHECK-LABEL: func.func @gemv_merge
// CHECK:         scf.forall (%[[LANE:.*]]) in (32) {
// CHECK:           %[[P:.*]] = memref.load %[[PARTIALS:.*]][%{{.*}}, %{{.*}}, %[[LANE]]] : memref<1x1x32xf32, #gpu.address_space<workgroup>>
// CHECK:           %[[S16:.*]], %{{.*}} = gpu.shuffle xor %[[P]], %c16_i32, %c32_i32 : f32
// CHECK:           %[[A16:.*]] = arith.addf %[[P]], %[[S16]] : f32
// CHECK:           gpu.shuffle xor %[[A16]], %c8_i32
// CHECK:           gpu.shuffle xor %{{.*}}, %c4_i32
// CHECK:           gpu.shuffle xor %{{.*}}, %c2_i32
// CHECK:           %[[S1:.*]], %{{.*}} = gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK:           %[[TOTAL:.*]] = arith.addf %{{.*}}, %[[S1]] : f32
// CHECK:           %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK:           scf.if %[[FIRST]] {
// CHECK:             %[[R:.*]] = arith.addf %[[TOTAL]], %cst : f32
// CHECK:             memref.store %[[R]], %{{.*}}[%{{.*}}, %{{.*}}] : memref<1x1xf32
// CHECK:           }
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK-NOT:     linalg.generic
#map = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @gemv_merge(%partials: memref<1x1x32xf32, #gpu.address_space<workgroup>>, %out: memref<1x1xf32, strided<[64, 1], offset: ?>>) {
  %cst = arith.constant 0.000000e+00 : f32
  scf.forall (%i) in (1) {
    linalg.fill ins(%cst : f32) outs(%out : memref<1x1xf32, strided<[64, 1], offset: ?>>)
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "reduction"]} ins(%partials : memref<1x1x32xf32, #gpu.address_space<workgroup>>) outs(%out : memref<1x1xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%in: f32, %acc: f32):
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.thread<x>]}
  return
}

// -----

// Without a fill, the output's own value is the initial one; a maximum
// combines with maximumf at every step.
// CHECK-LABEL: func.func @max_merge_no_fill
// CHECK:         scf.forall (%{{.*}}) in (32)
// CHECK:           gpu.shuffle xor
// CHECK:           arith.maximumf
// CHECK:           scf.if
// CHECK:             %[[INIT:.*]] = memref.load %arg1
// CHECK:             arith.maximumf %{{.*}}, %[[INIT]]
// CHECK:             memref.store
#map = affine_map<(d0) -> (d0)>
#map1 = affine_map<(d0) -> ()>
func.func @max_merge_no_fill(%partials: memref<32xf32>, %out: memref<f32>) {
  scf.forall (%i) in (1) {
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction"]} ins(%partials : memref<32xf32>) outs(%out : memref<f32>) {
    ^bb0(%in: f32, %acc: f32):
      %m = arith.maximumf %acc, %in : f32
      linalg.yield %m : f32
    }
  } {mapping = [#gpu.thread<x>]}
  return
}

// -----

// Left alone: a reduction over 64 (not one warp), a body that is more than
// one combiner, a forall of two threads, and a forall with no mapping.
// CHECK-LABEL: func.func @not_merges
// CHECK-NOT:     gpu.shuffle
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT:     gpu.shuffle
#map = affine_map<(d0) -> (d0)>
#map1 = affine_map<(d0) -> ()>
func.func @not_merges(%p64: memref<64xf32>, %p32: memref<32xf32>, %out: memref<f32>) {
  scf.forall (%i) in (1) {
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction"]} ins(%p64 : memref<64xf32>) outs(%out : memref<f32>) {
    ^bb0(%in: f32, %acc: f32):
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.thread<x>]}
  scf.forall (%i) in (1) {
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction"]} ins(%p32 : memref<32xf32>) outs(%out : memref<f32>) {
    ^bb0(%in: f32, %acc: f32):
      %sq = arith.mulf %in, %in : f32
      %s = arith.addf %sq, %acc : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.thread<x>]}
  scf.forall (%i) in (2) {
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction"]} ins(%p32 : memref<32xf32>) outs(%out : memref<f32>) {
    ^bb0(%in: f32, %acc: f32):
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.thread<x>]}
  scf.forall (%i) in (1) {
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["reduction"]} ins(%p32 : memref<32xf32>) outs(%out : memref<f32>) {
    ^bb0(%in: f32, %acc: f32):
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  }
  return
}
