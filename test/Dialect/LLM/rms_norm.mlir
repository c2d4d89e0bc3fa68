// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @rms_norm_f32_rank3
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<2x3x8xf32>, %[[W:[a-z0-9]+]]: tensor<8xf32>)
// CHECK: %[[R:[0-9]+]] = llm.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32} : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
// CHECK: return %[[R]] : tensor<2x3x8xf32>
func.func @rms_norm_f32_rank3(%x: tensor<2x3x8xf32>, %w: tensor<8xf32>) -> tensor<2x3x8xf32> {
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
  return %r : tensor<2x3x8xf32>
}

// CHECK-LABEL: func.func @rms_norm_f16_rank2_dynamic
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x4096xf16>, %[[W:[a-z0-9]+]]: tensor<4096xf16>)
// CHECK: %[[R:[0-9]+]] = llm.rms_norm %[[X]], %[[W]] {epsilon = 9.99999997E-7 : f32} : (tensor<?x4096xf16>, tensor<4096xf16>) -> tensor<?x4096xf16>
// CHECK: return %[[R]] : tensor<?x4096xf16>
func.func @rms_norm_f16_rank2_dynamic(%x: tensor<?x4096xf16>, %w: tensor<4096xf16>) -> tensor<?x4096xf16> {
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : (tensor<?x4096xf16>, tensor<4096xf16>) -> tensor<?x4096xf16>
  return %r : tensor<?x4096xf16>
}

// CHECK-LABEL: func.func @rms_norm_bf16_rank1
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {epsilon = 5.000000e-01 : f32} : (tensor<64xbf16>, tensor<64xbf16>) -> tensor<64xbf16>
func.func @rms_norm_bf16_rank1(%x: tensor<64xbf16>, %w: tensor<64xbf16>) -> tensor<64xbf16> {
  %r = llm.rms_norm %x, %w {epsilon = 0.5 : f32} : (tensor<64xbf16>, tensor<64xbf16>) -> tensor<64xbf16>
  return %r : tensor<64xbf16>
}

// Dynamic hidden size on the input, dynamic weight, and a result that is
// more dynamic than the input.
// CHECK-LABEL: func.func @rms_norm_dynamic_hidden
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<1x?x?xf32>, tensor<?xf32>) -> tensor<?x?x?xf32>
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<1x?x128xf32>, tensor<?xf32>) -> tensor<1x?x128xf32>
func.func @rms_norm_dynamic_hidden(%x: tensor<1x?x?xf32>, %y: tensor<1x?x128xf32>, %w: tensor<?xf32>) {
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<1x?x?xf32>, tensor<?xf32>) -> tensor<?x?x?xf32>
  %s = llm.rms_norm %y, %w {epsilon = 1.0e-05 : f32} : (tensor<1x?x128xf32>, tensor<?xf32>) -> tensor<1x?x128xf32>
  return
}
