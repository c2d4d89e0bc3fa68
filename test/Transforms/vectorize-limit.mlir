// RUN: kiln-opt %s "--kiln-vectorize=max-vector-elements=16 report=true" 2>&1 | FileCheck %s
// RUN: kiln-opt %s --kiln-vectorize=max-vector-elements=64 | FileCheck %s --check-prefix=BIG

// Tiles above max-vector-elements are not vectorized (no huge vectors).
// CHECK: remark: not vectorized (linalg.add, 2 loops): iteration space larger than max-vector-elements
// BIG: vector.transfer_read
// BIG-NOT: linalg.add
func.func @big(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = linalg.add ins(%a, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%b : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
