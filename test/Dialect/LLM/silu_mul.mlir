// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @silu_mul_f32_rank2
// CHECK-SAME: (%[[A:[a-z0-9]+]]: tensor<4x16xf32>, %[[B:[a-z0-9]+]]: tensor<4x16xf32>)
// CHECK: %[[R:[0-9]+]] = llm.silu_mul %[[A]], %[[B]] : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
// CHECK: return %[[R]] : tensor<4x16xf32>
func.func @silu_mul_f32_rank2(%gate: tensor<4x16xf32>, %up: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// Operand order is kept as written: the second block argument is passed first.
// CHECK-LABEL: func.func @silu_mul_bf16_rank3_dynamic
// CHECK-SAME: (%[[A:[a-z0-9]+]]: tensor<?x?x11008xbf16>, %[[B:[a-z0-9]+]]: tensor<?x?x11008xbf16>)
// CHECK: %[[R:[0-9]+]] = llm.silu_mul %[[B]], %[[A]] : (tensor<?x?x11008xbf16>, tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16>
// CHECK: return %[[R]] : tensor<?x?x11008xbf16>
func.func @silu_mul_bf16_rank3_dynamic(%gate: tensor<?x?x11008xbf16>, %up: tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16> {
  %r = llm.silu_mul %up, %gate : (tensor<?x?x11008xbf16>, tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16>
  return %r : tensor<?x?x11008xbf16>
}

// Static and dynamic sizes may be mixed between operands and result.
// CHECK-LABEL: func.func @silu_mul_f16_mixed
// CHECK: llm.silu_mul %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<2x?x8xf16>, tensor<?x3x8xf16>) -> tensor<?x?x?xf16>
func.func @silu_mul_f16_mixed(%gate: tensor<2x?x8xf16>, %up: tensor<?x3x8xf16>) -> tensor<?x?x?xf16> {
  %r = llm.silu_mul %gate, %up : (tensor<2x?x8xf16>, tensor<?x3x8xf16>) -> tensor<?x?x?xf16>
  return %r : tensor<?x?x?xf16>
}

// CHECK-LABEL: func.func @silu_mul_f32_rank1
// CHECK: llm.silu_mul %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<7xf32>, tensor<7xf32>) -> tensor<7xf32>
func.func @silu_mul_f32_rank1(%gate: tensor<7xf32>, %up: tensor<7xf32>) -> tensor<7xf32> {
  %r = llm.silu_mul %gate, %up : (tensor<7xf32>, tensor<7xf32>) -> tensor<7xf32>
  return %r : tensor<7xf32>
}
