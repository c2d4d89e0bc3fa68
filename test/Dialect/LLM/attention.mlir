// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// Multi-head attention (num_heads == num_kv_heads), prefill, static shapes.
// CHECK-LABEL: func.func @attention_mha_f32_i32
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<2x5x8x64xf32>, %[[K:[a-z0-9]+]]: tensor<2x16x8x64xf32>, %[[V:[a-z0-9]+]]: tensor<2x16x8x64xf32>, %[[P:[a-z0-9]+]]: tensor<2x5xi32>)
// CHECK: %[[R:[0-9]+]] = llm.attention %[[Q]], %[[K]], %[[V]], %[[P]] {scale = 1.250000e-01 : f32} : (tensor<2x5x8x64xf32>, tensor<2x16x8x64xf32>, tensor<2x16x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
// CHECK: return %[[R]] : tensor<2x5x8x64xf32>
func.func @attention_mha_f32_i32(%q: tensor<2x5x8x64xf32>, %k: tensor<2x16x8x64xf32>, %v: tensor<2x16x8x64xf32>, %pos: tensor<2x5xi32>) -> tensor<2x5x8x64xf32> {
  %r = llm.attention %q, %k, %v, %pos {scale = 0.125 : f32} : (tensor<2x5x8x64xf32>, tensor<2x16x8x64xf32>, tensor<2x16x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return %r : tensor<2x5x8x64xf32>
}

// Grouped-query attention (32 query heads over 8 KV heads) with a sliding
// window; dynamic batch, sequence and KV length; i64 positions.
// CHECK-LABEL: func.func @attention_gqa_sliding_bf16_i64
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<?x?x32x128xbf16>, %[[K:[a-z0-9]+]]: tensor<?x?x8x128xbf16>, %[[V:[a-z0-9]+]]: tensor<?x?x8x128xbf16>, %[[P:[a-z0-9]+]]: tensor<?x?xi64>)
// CHECK: %[[R:[0-9]+]] = llm.attention %[[Q]], %[[K]], %[[V]], %[[P]] {scale = 0.0883883461 : f32, sliding_window = 4096 : i64} : (tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?xi64>) -> tensor<?x?x32x128xbf16>
// CHECK: return %[[R]] : tensor<?x?x32x128xbf16>
func.func @attention_gqa_sliding_bf16_i64(%q: tensor<?x?x32x128xbf16>, %k: tensor<?x?x8x128xbf16>, %v: tensor<?x?x8x128xbf16>, %pos: tensor<?x?xi64>) -> tensor<?x?x32x128xbf16> {
  %r = llm.attention %q, %k, %v, %pos {scale = 0.0883883461 : f32, sliding_window = 4096 : i64} : (tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?xi64>) -> tensor<?x?x32x128xbf16>
  return %r : tensor<?x?x32x128xbf16>
}

// Multi-query attention (one KV head), decode step (seq = 1) over a KV
// cache slice of a different length; the smallest valid sliding window.
// CHECK-LABEL: func.func @attention_mqa_decode_f16
// CHECK: llm.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} {scale = 2.500000e-01 : f32, sliding_window = 1 : i64} : (tensor<1x1x4x16xf16>, tensor<1x128x1x16xf16>, tensor<1x128x1x16xf16>, tensor<1x1xi32>) -> tensor<1x1x4x16xf16>
func.func @attention_mqa_decode_f16(%q: tensor<1x1x4x16xf16>, %k: tensor<1x128x1x16xf16>, %v: tensor<1x128x1x16xf16>, %pos: tensor<1x1xi32>) -> tensor<1x1x4x16xf16> {
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32, sliding_window = 1 : i64} : (tensor<1x1x4x16xf16>, tensor<1x128x1x16xf16>, tensor<1x128x1x16xf16>, tensor<1x1xi32>) -> tensor<1x1x4x16xf16>
  return %r : tensor<1x1x4x16xf16>
}
