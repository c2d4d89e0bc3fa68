// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// Grouped-query attention as four generics over (batch, kv_head, group,
// query, key[, head_dim]): scores, row max, row sum, weighted values. The
// causal / sliding-window mask is computed from linalg.index of the key and
// the query position inside each body: there is no [seq, seq] mask tensor.
// CHECK-LABEL: func.func @attention_gqa_window
// CHECK:         %[[Q5:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3], [4]] {{.*}} into tensor<?x?x2x2x4xf32>
// CHECK:         %[[S:.*]] = linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME:      ins(%[[Q5]], %{{.*}} : tensor<?x?x2x2x4xf32>, tensor<?x?x2x4xf32>) outs(%{{.*}} : tensor<?x2x2x?x?xf32>)
// CHECK-SAME:      llm.fuse_into_consumers
// CHECK:         %[[MAX:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[S]], %{{.*}} : tensor<?x2x2x?x?xf32>, tensor<?x?xi32>)
// CHECK-SAME:      llm.fuse_into_consumers
// CHECK:           linalg.index 4
// CHECK:           arith.cmpi sle
// CHECK:           arith.cmpi sgt
// CHECK:           arith.andi
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[S]], %{{.*}}, %[[MAX]] :
// CHECK:           math.exp
// CHECK:         %[[OUT:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[S]], %{{[a-z0-9_]+}}, %[[MAX]], %[[SUM]], %{{[a-z0-9_]+}} :
// CHECK-SAME:      outs(%{{.*}} : tensor<?x?x2x2x4xf32>)
// CHECK:           arith.divf
// CHECK:         tensor.collapse_shape %[[OUT]] {{\[}}[0], [1], [2, 3], [4]] : tensor<?x?x2x2x4xf32> into tensor<?x?x4x4xf32>
// CHECK-NOT:     tensor<?x?x?x?xi1>
func.func @attention_gqa_window(%q: tensor<?x?x4x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x4xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x4x4xf32> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.5 : f32, sliding_window = 4 : i64} : (tensor<?x?x4x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi32>) -> tensor<?x?x4x4xf32>
  return %0 : tensor<?x?x4x4xf32>
}

// Without a window only the causal comparison remains; bf16 output is
// rounded once at the end.
// CHECK-LABEL: func.func @attention_causal_bf16
// CHECK-NOT:     arith.cmpi sgt
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// CHECK:         tensor.collapse_shape
func.func @attention_causal_bf16(%q: tensor<1x?x8x4xbf16>, %k: tensor<1x?x8x4xbf16>, %v: tensor<1x?x8x4xbf16>, %p: tensor<1x?xi32>) -> tensor<1x?x8x4xbf16> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.5 : f32} : (tensor<1x?x8x4xbf16>, tensor<1x?x8x4xbf16>, tensor<1x?x8x4xbf16>, tensor<1x?xi32>) -> tensor<1x?x8x4xbf16>
  return %0 : tensor<1x?x8x4xbf16>
}
