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
// one combiner, two threads merging the same partials into the same output
// (not one row each), and a forall with no mapping.
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

// -----

// Several rows (the softmax's row maxima of a flash-attention block: one
// thread per row merged 32 lanes' partials): a warp per row, up to 4 warps
// (128 threads); warp w merges rows w, w + 4, ... with a butterfly each,
// its views of the row's partials and output recomputed for the row.
// CHECK-LABEL: func.func @row_merges
// CHECK:         scf.forall (%[[T:.*]]) in (128) {
// CHECK:           %[[WARP:.*]] = arith.divui %[[T]], %c32
// CHECK:           %[[LANE:.*]] = arith.remui %[[T]], %c32
// CHECK:           scf.for %[[ROW:.*]] = %[[WARP]] to %c16 step %c4 {
// CHECK:             %[[P:.*]] = memref.subview %{{.*}}[%[[ROW]], 0] [1, 32] [1, 1]
// CHECK:             %[[O:.*]] = memref.subview %{{.*}}[%[[ROW]]] [1] [1]
// CHECK:             %[[V:.*]] = memref.load %[[P]][%c0{{.*}}, %[[LANE]]]
// CHECK:             gpu.shuffle xor %[[V]], %c16_i32
// CHECK:             arith.maximumf
// CHECK-COUNT-4:     gpu.shuffle xor
// CHECK:             %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK:             scf.if %[[FIRST]] {
// CHECK:               arith.maximumf %{{.*}}, %cst
// CHECK:               memref.store %{{.*}}, %[[O]][%c0
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK-NOT:     linalg.generic
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
func.func @row_merges(%partials: memref<16x32xf32, #gpu.address_space<workgroup>>, %out: memref<16xf32, #gpu.address_space<workgroup>>) {
  %ninf = arith.constant 0xFF800000 : f32
  scf.forall (%r) in (16) {
    %p = memref.subview %partials[%r, 0] [1, 32] [1, 1] : memref<16x32xf32, #gpu.address_space<workgroup>> to memref<1x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>
    %o = memref.subview %out[%r] [1] [1] : memref<16xf32, #gpu.address_space<workgroup>> to memref<1xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>
    linalg.fill ins(%ninf : f32) outs(%o : memref<1xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>)
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "reduction"]} ins(%p : memref<1x32xf32, strided<[32, 1], offset: ?>, #gpu.address_space<workgroup>>) outs(%o : memref<1xf32, strided<[1], offset: ?>, #gpu.address_space<workgroup>>) {
    ^bb0(%in: f32, %acc: f32):
      %m = arith.maximumf %in, %acc : f32
      linalg.yield %m : f32
    }
  } {mapping = [#gpu.thread<x>]}
  return
}

// -----

// Two rows: two warps, one row each.
// CHECK-LABEL: func.func @two_rows
// CHECK:         scf.forall (%{{.*}}) in (64) {
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c2 step %c2{{.*}} {
// CHECK:             gpu.shuffle xor
// CHECK:             arith.addf
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
func.func @two_rows(%partials: memref<2x32xf32>, %out: memref<2xf32>) {
  scf.forall (%r) in (2) {
    %p = memref.subview %partials[%r, 0] [1, 32] [1, 1] : memref<2x32xf32> to memref<1x32xf32, strided<[32, 1], offset: ?>>
    %o = memref.subview %out[%r] [1] [1] : memref<2xf32> to memref<1xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "reduction"]} ins(%p : memref<1x32xf32, strided<[32, 1], offset: ?>>) outs(%o : memref<1xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %acc: f32):
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.thread<x>]}
  return
}

// -----

// The fill's value computed inside the forall: recomputed with the row's
// views (the old forall is erased).
// CHECK-LABEL: func.func @fill_value_inside
// CHECK:         scf.forall (%{{.*}}) in (64) {
// CHECK:           scf.for
// CHECK:             %[[INIT:.*]] = arith.constant 0xFF800000 : f32
// CHECK:             scf.if
// CHECK:               arith.maximumf %{{.*}}, %[[INIT]]
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
func.func @fill_value_inside(%partials: memref<2x32xf32>, %out: memref<2xf32>) {
  scf.forall (%r) in (2) {
    %ninf = arith.constant 0xFF800000 : f32
    %p = memref.subview %partials[%r, 0] [1, 32] [1, 1] : memref<2x32xf32> to memref<1x32xf32, strided<[32, 1], offset: ?>>
    %o = memref.subview %out[%r] [1] [1] : memref<2xf32> to memref<1xf32, strided<[1], offset: ?>>
    linalg.fill ins(%ninf : f32) outs(%o : memref<1xf32, strided<[1], offset: ?>>)
    linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "reduction"]} ins(%p : memref<1x32xf32, strided<[32, 1], offset: ?>>) outs(%o : memref<1xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %acc: f32):
      %m = arith.maximumf %in, %acc : f32
      linalg.yield %m : f32
    }
  } {mapping = [#gpu.thread<x>]}
  return
}
