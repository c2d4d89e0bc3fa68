// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// Prefill: write 5 tokens of 2 sequences into a static cache.
// CHECK-LABEL: func.func @kv_cache_write_f32_i32
// CHECK-SAME: (%[[C:[a-z0-9]+]]: tensor<2x128x4x64xf32>, %[[U:[a-z0-9]+]]: tensor<2x5x4x64xf32>, %[[P:[a-z0-9]+]]: tensor<2x5xi32>)
// CHECK: %[[R:[0-9]+]] = llm.kv_cache_write %[[C]], %[[U]], %[[P]] : (tensor<2x128x4x64xf32>, tensor<2x5x4x64xf32>, tensor<2x5xi32>) -> tensor<2x128x4x64xf32>
// CHECK: return %[[R]] : tensor<2x128x4x64xf32>
func.func @kv_cache_write_f32_i32(%cache: tensor<2x128x4x64xf32>, %update: tensor<2x5x4x64xf32>, %pos: tensor<2x5xi32>) -> tensor<2x128x4x64xf32> {
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<2x128x4x64xf32>, tensor<2x5x4x64xf32>, tensor<2x5xi32>) -> tensor<2x128x4x64xf32>
  return %r : tensor<2x128x4x64xf32>
}

// Dynamic batch and sequence, i64 positions.
// CHECK-LABEL: func.func @kv_cache_write_bf16_i64_dynamic
// CHECK-SAME: (%[[C:[a-z0-9]+]]: tensor<?x4096x8x128xbf16>, %[[U:[a-z0-9]+]]: tensor<?x?x8x128xbf16>, %[[P:[a-z0-9]+]]: tensor<?x?xi64>)
// CHECK: %[[R:[0-9]+]] = llm.kv_cache_write %[[C]], %[[U]], %[[P]] : (tensor<?x4096x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?xi64>) -> tensor<?x4096x8x128xbf16>
// CHECK: return %[[R]] : tensor<?x4096x8x128xbf16>
func.func @kv_cache_write_bf16_i64_dynamic(%cache: tensor<?x4096x8x128xbf16>, %update: tensor<?x?x8x128xbf16>, %pos: tensor<?x?xi64>) -> tensor<?x4096x8x128xbf16> {
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<?x4096x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?xi64>) -> tensor<?x4096x8x128xbf16>
  return %r : tensor<?x4096x8x128xbf16>
}

// Decode: one token into a cache with a dynamic context length.
// CHECK-LABEL: func.func @kv_cache_write_f16_decode
// CHECK: llm.kv_cache_write %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} : (tensor<1x?x1x16xf16>, tensor<1x1x1x16xf16>, tensor<1x1xi32>) -> tensor<1x?x1x16xf16>
func.func @kv_cache_write_f16_decode(%cache: tensor<1x?x1x16xf16>, %update: tensor<1x1x1x16xf16>, %pos: tensor<1x1xi32>) -> tensor<1x?x1x16xf16> {
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x?x1x16xf16>, tensor<1x1x1x16xf16>, tensor<1x1xi32>) -> tensor<1x?x1x16xf16>
  return %r : tensor<1x?x1x16xf16>
}
