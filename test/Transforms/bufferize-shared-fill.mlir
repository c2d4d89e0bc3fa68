// RUN: kiln-opt %s --kiln-bufferize --canonicalize | FileCheck %s

// Two accumulators initialised by one (CSE'd) zero fill: each gets its own
// fill instead of a copy of the first.
// CHECK-LABEL: func.func @gate_up
// CHECK-COUNT-2: linalg.fill
// CHECK-NOT:     copy
// CHECK:         return
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
func.func @gate_up(%x: tensor<4x8xf32>, %g: tensor<16x8xf32>, %u: tensor<16x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %0 = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %g : tensor<4x8xf32>, tensor<16x8xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %u : tensor<4x8xf32>, tensor<16x8xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}
