// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @add_f32_rank2
// CHECK-SAME: (%[[A:[a-z0-9]+]]: tensor<4x16xf32>, %[[B:[a-z0-9]+]]: tensor<4x16xf32>)
// CHECK: %[[R:[0-9]+]] = llm.add %[[A]], %[[B]] : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
// CHECK: return %[[R]] : tensor<4x16xf32>
func.func @add_f32_rank2(%lhs: tensor<4x16xf32>, %rhs: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// Operand order is kept as written: the second block argument is passed first.
// CHECK-LABEL: func.func @add_bf16_rank3_dynamic
// CHECK-SAME: (%[[A:[a-z0-9]+]]: tensor<?x?x11008xbf16>, %[[B:[a-z0-9]+]]: tensor<?x?x11008xbf16>)
// CHECK: %[[R:[0-9]+]] = llm.add %[[B]], %[[A]] : (tensor<?x?x11008xbf16>, tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16>
// CHECK: return %[[R]] : tensor<?x?x11008xbf16>
func.func @add_bf16_rank3_dynamic(%lhs: tensor<?x?x11008xbf16>, %rhs: tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16> {
  %r = llm.add %rhs, %lhs : (tensor<?x?x11008xbf16>, tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16>
  return %r : tensor<?x?x11008xbf16>
}

// Static and dynamic sizes may be mixed between operands and result.
// CHECK-LABEL: func.func @add_f16_mixed
// CHECK: llm.add %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<2x?x8xf16>, tensor<?x3x8xf16>) -> tensor<?x?x?xf16>
func.func @add_f16_mixed(%lhs: tensor<2x?x8xf16>, %rhs: tensor<?x3x8xf16>) -> tensor<?x?x?xf16> {
  %r = llm.add %lhs, %rhs : (tensor<2x?x8xf16>, tensor<?x3x8xf16>) -> tensor<?x?x?xf16>
  return %r : tensor<?x?x?xf16>
}

// CHECK-LABEL: func.func @add_f32_rank1
// CHECK: llm.add %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<7xf32>, tensor<7xf32>) -> tensor<7xf32>
func.func @add_f32_rank1(%lhs: tensor<7xf32>, %rhs: tensor<7xf32>) -> tensor<7xf32> {
  %r = llm.add %lhs, %rhs : (tensor<7xf32>, tensor<7xf32>) -> tensor<7xf32>
  return %r : tensor<7xf32>
}
