// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// One linalg.contract over the input's own dims with the [out, in] weight,
// accumulating in f32, then an epilogue that adds the bias and rounds.
// CHECK-DAG:   #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear_bias_bf16
// CHECK:         %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x?x16xf32>)
// CHECK:         %[[MM:.*]] = linalg.contract indexing_maps = [#[[X]], #[[W]], #[[OUT]]]
// CHECK-SAME:      ins(%{{.*}}, %{{.*}} : tensor<?x?x8xbf16>, tensor<16x8xbf16>) outs(%[[ACC]] : tensor<?x?x16xf32>)
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[MM]], %{{.*}} : tensor<?x?x16xf32>, tensor<16xbf16>)
// CHECK:           arith.addf
// CHECK:           arith.truncf {{.*}} : f32 to bf16
func.func @linear_bias_bf16(%x: tensor<?x?x8xbf16>, %w: tensor<16x8xbf16>, %b: tensor<16xbf16>) -> tensor<?x?x16xbf16> {
  %0 = llm.linear %x, %w, %b : (tensor<?x?x8xbf16>, tensor<16x8xbf16>, tensor<16xbf16>) -> tensor<?x?x16xbf16>
  return %0 : tensor<?x?x16xbf16>
}

// f32 without bias: the contraction alone, no epilogue.
// CHECK-LABEL: func.func @linear_2d_f32
// CHECK:         %[[R:.*]] = linalg.contract
// CHECK-SAME:      outs(%{{.*}} : tensor<?x16xf32>)
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[R]]
func.func @linear_2d_f32(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) -> tensor<?x16xf32> {
  %0 = llm.linear %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}
