// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse --kiln-assign-lowering-config --kiln-tile-and-fuse --canonicalize --cse | FileCheck %s

// After tiling, the whole attention (scores, row max, row sum and weighted
// values) is computed per (batch, kv_head, group, 8 queries) tile inside one
// scf.forall. The score tile is [1, 1, 1, <=8, kv_len]: no [seq, kv_len]
// tensor per head exists outside the loop, and no mask tensor at all.
// CHECK-LABEL: func.func @attention
// CHECK-NOT:     linalg.generic
// CHECK:         scf.forall ({{.*}}) = (0, 0, 0, 0) to (%{{.*}}, 2, 2, %{{.*}}) step (1, 1, 1, 8)
// CHECK:           %[[S:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x1x?x?xf32>) attrs = {llm.fuse_into_consumers
// CHECK:           %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[S]], %{{.*}} : tensor<1x1x1x?x?xf32>, tensor<1x?xi32>)
// CHECK:           %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[S]], %{{.*}}, %[[MAX]] :
// CHECK:           linalg.generic {{.*}} ins(%[[S]], %{{.*}}, %[[MAX]], %[[SUM]], %{{.*}} :
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.generic
// CHECK:         tensor.collapse_shape
func.func @attention(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x2x16xf32>, %v: tensor<?x?x2x16xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x4x16xf32> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.25 : f32} : (tensor<?x?x4x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?xi32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}
