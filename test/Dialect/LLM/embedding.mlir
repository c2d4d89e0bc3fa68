// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @embedding_f32_i32
// CHECK-SAME: (%[[T:[a-z0-9]+]]: tensor<32000x64xf32>, %[[IDS:[a-z0-9]+]]: tensor<2x5xi32>)
// CHECK: %[[R:[0-9]+]] = llm.embedding %[[T]], %[[IDS]] : (tensor<32000x64xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
// CHECK: return %[[R]] : tensor<2x5x64xf32>
func.func @embedding_f32_i32(%table: tensor<32000x64xf32>, %ids: tensor<2x5xi32>) -> tensor<2x5x64xf32> {
  %r = llm.embedding %table, %ids : (tensor<32000x64xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
  return %r : tensor<2x5x64xf32>
}

// CHECK-LABEL: func.func @embedding_f16_i64_dynamic
// CHECK-SAME: (%[[T:[a-z0-9]+]]: tensor<128x16xf16>, %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>)
// CHECK: %[[R:[0-9]+]] = llm.embedding %[[T]], %[[IDS]] : (tensor<128x16xf16>, tensor<?x?xi64>) -> tensor<?x?x16xf16>
// CHECK: return %[[R]] : tensor<?x?x16xf16>
func.func @embedding_f16_i64_dynamic(%table: tensor<128x16xf16>, %ids: tensor<?x?xi64>) -> tensor<?x?x16xf16> {
  %r = llm.embedding %table, %ids : (tensor<128x16xf16>, tensor<?x?xi64>) -> tensor<?x?x16xf16>
  return %r : tensor<?x?x16xf16>
}

// Dynamic vocab and hidden sizes; a dynamic result size is compatible with
// any static operand size.
// CHECK-LABEL: func.func @embedding_bf16_dynamic_table
// CHECK-SAME: (%[[T:[a-z0-9]+]]: tensor<?x?xbf16>, %[[IDS:[a-z0-9]+]]: tensor<1x7xi32>)
// CHECK: %[[R:[0-9]+]] = llm.embedding %[[T]], %[[IDS]] : (tensor<?x?xbf16>, tensor<1x7xi32>) -> tensor<1x?x32xbf16>
// CHECK: return %[[R]] : tensor<1x?x32xbf16>
func.func @embedding_bf16_dynamic_table(%table: tensor<?x?xbf16>, %ids: tensor<1x7xi32>) -> tensor<1x?x32xbf16> {
  %r = llm.embedding %table, %ids : (tensor<?x?xbf16>, tensor<1x7xi32>) -> tensor<1x?x32xbf16>
  return %r : tensor<1x?x32xbf16>
}
