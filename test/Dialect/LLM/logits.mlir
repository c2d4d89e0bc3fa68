// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @logits_f32
// CHECK-SAME: (%[[H:[a-z0-9]+]]: tensor<2x5x64xf32>, %[[W:[a-z0-9]+]]: tensor<32000x64xf32>)
// CHECK: %[[R:[0-9]+]] = llm.logits %[[H]], %[[W]] : (tensor<2x5x64xf32>, tensor<32000x64xf32>) -> tensor<2x32000xf32>
// CHECK: return %[[R]] : tensor<2x32000xf32>
func.func @logits_f32(%h: tensor<2x5x64xf32>, %w: tensor<32000x64xf32>) -> tensor<2x32000xf32> {
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<32000x64xf32>) -> tensor<2x32000xf32>
  return %r : tensor<2x32000xf32>
}

// bf16 activations and LM head still give f32 logits; dynamic batch and
// sequence.
// CHECK-LABEL: func.func @logits_bf16_dynamic
// CHECK-SAME: (%[[H:[a-z0-9]+]]: tensor<?x?x4096xbf16>, %[[W:[a-z0-9]+]]: tensor<128256x4096xbf16>)
// CHECK: %[[R:[0-9]+]] = llm.logits %[[H]], %[[W]] : (tensor<?x?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
// CHECK: return %[[R]] : tensor<?x128256xf32>
func.func @logits_bf16_dynamic(%h: tensor<?x?x4096xbf16>, %w: tensor<128256x4096xbf16>) -> tensor<?x128256xf32> {
  %r = llm.logits %h, %w : (tensor<?x?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %r : tensor<?x128256xf32>
}

// f16, decode (seq = 1), dynamic vocabulary and hidden size.
// CHECK-LABEL: func.func @logits_f16_dynamic_weight
// CHECK: llm.logits %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<1x1x?xf16>, tensor<?x?xf16>) -> tensor<1x?xf32>
func.func @logits_f16_dynamic_weight(%h: tensor<1x1x?xf16>, %w: tensor<?x?xf16>) -> tensor<1x?xf32> {
  %r = llm.logits %h, %w : (tensor<1x1x?xf16>, tensor<?x?xf16>) -> tensor<1x?xf32>
  return %r : tensor<1x?xf32>
}
