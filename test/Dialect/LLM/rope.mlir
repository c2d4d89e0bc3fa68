// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @rope_f32_i32
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<2x5x8x64xf32>, %[[P:[a-z0-9]+]]: tensor<2x5xi32>)
// CHECK: %[[R:[0-9]+]] = llm.rope %[[X]], %[[P]] {theta = 1.000000e+04 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
// CHECK: return %[[R]] : tensor<2x5x8x64xf32>
func.func @rope_f32_i32(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) -> tensor<2x5x8x64xf32> {
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return %r : tensor<2x5x8x64xf32>
}

// Dynamic batch, sequence and head count; only head_dim must be static.
// CHECK-LABEL: func.func @rope_bf16_i64_dynamic
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x?x?x128xbf16>, %[[P:[a-z0-9]+]]: tensor<?x?xi64>)
// CHECK: %[[R:[0-9]+]] = llm.rope %[[X]], %[[P]] {theta = 5.000000e+05 : f64} : (tensor<?x?x?x128xbf16>, tensor<?x?xi64>) -> tensor<?x?x?x128xbf16>
// CHECK: return %[[R]] : tensor<?x?x?x128xbf16>
func.func @rope_bf16_i64_dynamic(%x: tensor<?x?x?x128xbf16>, %pos: tensor<?x?xi64>) -> tensor<?x?x?x128xbf16> {
  %r = llm.rope %x, %pos {theta = 500000.0 : f64} : (tensor<?x?x?x128xbf16>, tensor<?x?xi64>) -> tensor<?x?x?x128xbf16>
  return %r : tensor<?x?x?x128xbf16>
}

// Static input with dynamic positions (decode step: seq = 1).
// CHECK-LABEL: func.func @rope_f16_decode
// CHECK: llm.rope %{{[a-z0-9]+}}, %{{[a-z0-9]+}} {theta = 1.000000e+06 : f64} : (tensor<1x1x4x16xf16>, tensor<?x?xi32>) -> tensor<1x1x4x16xf16>
func.func @rope_f16_decode(%x: tensor<1x1x4x16xf16>, %pos: tensor<?x?xi32>) -> tensor<1x1x4x16xf16> {
  %r = llm.rope %x, %pos {theta = 1.0e+06 : f64} : (tensor<1x1x4x16xf16>, tensor<?x?xi32>) -> tensor<1x1x4x16xf16>
  return %r : tensor<1x1x4x16xf16>
}

// Precomputed inverse frequencies (RoPE scaling), head_dim/2 of them.
// CHECK-LABEL: func.func @rope_inv_freq
// CHECK: llm.rope %{{.*}}, %{{.*}} {inv_freq = array<f64: 1.000000e+00, 2.500000e-01>, theta = 1.000000e+04 : f64}
func.func @rope_inv_freq(%x: tensor<1x2x2x4xf32>, %pos: tensor<1x2xi32>) -> tensor<1x2x2x4xf32> {
  %r = llm.rope %x, %pos {theta = 10000.0 : f64, inv_freq = array<f64: 1.0, 0.25>} : (tensor<1x2x2x4xf32>, tensor<1x2xi32>) -> tensor<1x2x2x4xf32>
  return %r : tensor<1x2x2x4xf32>
}
