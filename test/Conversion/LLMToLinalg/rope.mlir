// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// Elementwise over [batch, seq, heads, head_dim]; the partner element of
// rotate_half is read with tensor.extract at d +/- head_dim/2.
// CHECK-LABEL: func.func @rope
// CHECK-DAG:     %[[HALF:.*]] = arith.constant 4 : index
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK-SAME:      ins(%{{.*}}, %{{.*}} : tensor<?x?x2x8xf16>, tensor<?x?xi64>)
// CHECK:           %[[D:.*]] = linalg.index 3
// CHECK:           %[[FIRST:.*]] = arith.cmpi ult, %[[D]], %[[HALF]]
// CHECK:           math.exp
// CHECK:           math.cos
// CHECK:           math.sin
// CHECK:           tensor.extract
// CHECK:           arith.negf
// CHECK:           arith.select %[[FIRST]]
// CHECK:           arith.truncf {{.*}} : f32 to f16
func.func @rope(%x: tensor<?x?x2x8xf16>, %pos: tensor<?x?xi64>) -> tensor<?x?x2x8xf16> {
  %0 = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<?x?x2x8xf16>, tensor<?x?xi64>) -> tensor<?x?x2x8xf16>
  return %0 : tensor<?x?x2x8xf16>
}

// With inv_freq the frequencies come from a constant table, not exp().
// CHECK-LABEL: func.func @rope_inv_freq
// CHECK: %[[T:.*]] = arith.constant dense<[1.000000e+00, 2.500000e-01]> : tensor<2xf32>
// CHECK: linalg.generic
// CHECK: tensor.extract %[[T]]
// CHECK-NOT: math.exp
func.func @rope_inv_freq(%x: tensor<1x2x2x4xf32>, %pos: tensor<1x2xi32>) -> tensor<1x2x2x4xf32> {
  %r = llm.rope %x, %pos {theta = 10000.0 : f64, inv_freq = array<f64: 1.0, 0.25>} : (tensor<1x2x2x4xf32>, tensor<1x2xi32>) -> tensor<1x2x2x4xf32>
  return %r : tensor<1x2x2x4xf32>
}
