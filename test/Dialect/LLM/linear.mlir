// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// Rank-2 input, no bias.
// CHECK-LABEL: func.func @linear_rank2_f32
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<4x8xf32>, %[[W:[a-z0-9]+]]: tensor<16x8xf32>)
// CHECK: %[[R:[0-9]+]] = llm.linear %[[X]], %[[W]] : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
// CHECK: return %[[R]] : tensor<4x16xf32>
func.func @linear_rank2_f32(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<4x16xf32> {
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// Rank-3 input with a bias.
// CHECK-LABEL: func.func @linear_rank3_bias_bf16
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<2x3x64xbf16>, %[[W:[a-z0-9]+]]: tensor<128x64xbf16>, %[[B:[a-z0-9]+]]: tensor<128xbf16>)
// CHECK: %[[R:[0-9]+]] = llm.linear %[[X]], %[[W]], %[[B]] : (tensor<2x3x64xbf16>, tensor<128x64xbf16>, tensor<128xbf16>) -> tensor<2x3x128xbf16>
// CHECK: return %[[R]] : tensor<2x3x128xbf16>
func.func @linear_rank3_bias_bf16(%x: tensor<2x3x64xbf16>, %w: tensor<128x64xbf16>, %b: tensor<128xbf16>) -> tensor<2x3x128xbf16> {
  %r = llm.linear %x, %w, %b : (tensor<2x3x64xbf16>, tensor<128x64xbf16>, tensor<128xbf16>) -> tensor<2x3x128xbf16>
  return %r : tensor<2x3x128xbf16>
}

// Dynamic number of tokens, with a bias.
// CHECK-LABEL: func.func @linear_rank2_dynamic_bias_f16
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x32xf16>, %[[W:[a-z0-9]+]]: tensor<96x32xf16>, %[[B:[a-z0-9]+]]: tensor<96xf16>)
// CHECK: %[[R:[0-9]+]] = llm.linear %[[X]], %[[W]], %[[B]] : (tensor<?x32xf16>, tensor<96x32xf16>, tensor<96xf16>) -> tensor<?x96xf16>
// CHECK: return %[[R]] : tensor<?x96xf16>
func.func @linear_rank2_dynamic_bias_f16(%x: tensor<?x32xf16>, %w: tensor<96x32xf16>, %b: tensor<96xf16>) -> tensor<?x96xf16> {
  %r = llm.linear %x, %w, %b : (tensor<?x32xf16>, tensor<96x32xf16>, tensor<96xf16>) -> tensor<?x96xf16>
  return %r : tensor<?x96xf16>
}

// Dynamic batch and sequence, dynamic weight sizes, no bias.
// CHECK-LABEL: func.func @linear_rank3_dynamic_f32
// CHECK: llm.linear %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<?x?x64xf32>, tensor<?x?xf32>) -> tensor<?x?x256xf32>
func.func @linear_rank3_dynamic_f32(%x: tensor<?x?x64xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x256xf32> {
  %r = llm.linear %x, %w : (tensor<?x?x64xf32>, tensor<?x?xf32>) -> tensor<?x?x256xf32>
  return %r : tensor<?x?x256xf32>
}
