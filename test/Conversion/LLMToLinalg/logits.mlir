// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// Only the last position is projected: a rank-reducing slice at seq - 1,
// then a matmul against the transposed [vocab, hidden] weight in f32.
// CHECK-DAG:   #[[LHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[RHS:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG:   #[[RES:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @logits
// CHECK:         %[[SEQ:.*]] = tensor.dim %{{.*}}, %c1
// CHECK:         %[[LAST:.*]] = arith.subi %[[SEQ]], %c1
// CHECK:         %[[ROW:.*]] = tensor.extract_slice %{{.*}}[0, %[[LAST]], 0] [%{{.*}}, 1, 8] [1, 1, 1] : tensor<?x?x8xbf16> to tensor<?x8xbf16>
// CHECK:         linalg.matmul indexing_maps = [#[[LHS]], #[[RHS]], #[[RES]]]
// CHECK-SAME:      ins(%[[ROW]], %{{.*}} : tensor<?x8xbf16>, tensor<50x8xbf16>) outs(%{{.*}} : tensor<?x50xf32>)
func.func @logits(%h: tensor<?x?x8xbf16>, %w: tensor<50x8xbf16>) -> tensor<?x50xf32> {
  %0 = llm.logits %h, %w : (tensor<?x?x8xbf16>, tensor<50x8xbf16>) -> tensor<?x50xf32>
  return %0 : tensor<?x50xf32>
}
