// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @cache_rank(%cache: tensor<1x64x32xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op expects cache of rank 4 [batch, max_context, kv_heads, head_dim], got rank 3}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x32xf32>, tensor<1x4x2x16xf32>, tensor<1x4xi32>) -> tensor<1x64x32xf32>
  return
}

// -----

func.func @update_rank(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x32xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op expects update of rank 4 [batch, seq, kv_heads, head_dim], got rank 3}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x32xf32>, tensor<1x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @positions_rank(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op expects positions of rank 2 [batch, seq], got rank 1}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @positions_batch(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<2x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op positions batch size (2) does not match update batch size (1)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<2x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @positions_seq(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x3xi64>) {
  // expected-error @+1 {{'llm.kv_cache_write' op positions sequence length (3) does not match update sequence length (4)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<1x3xi64>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @update_batch(%cache: tensor<1x64x2x16xf32>, %update: tensor<2x4x2x16xf32>, %pos: tensor<2x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op update batch size (2) does not match cache batch size (1)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<2x4x2x16xf32>, tensor<2x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @update_kv_heads(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x4x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op update kv_heads (4) does not match cache kv_heads (2)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @update_head_dim(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x32xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op update head_dim (32) does not match cache head_dim (16)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x32xf32>, tensor<1x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @update_element_type(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf16>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op element type of update ('f16') does not match cache ('f32')}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf16>, tensor<1x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @result_rank(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op result rank (3) does not match cache rank (4)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<1x4xi32>) -> tensor<1x64x32xf32>
  return
}

// -----

func.func @result_dim(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op result dim 1 (4) does not match cache dim 1 (64)}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x2x16xf32>
  return
}

// -----

func.func @result_element_type(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op element type of result ('bf16') does not match cache ('f32')}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<1x4xi32>) -> tensor<1x64x2x16xbf16>
  return
}

// -----

func.func @float_positions(%cache: tensor<1x64x2x16xf32>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xf16>) {
  // expected-error @+1 {{'llm.kv_cache_write' op operand #2 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<1x4xf16>'}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xf32>, tensor<1x4x2x16xf32>, tensor<1x4xf16>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @integer_cache(%cache: tensor<1x64x2x16xi8>, %update: tensor<1x4x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.kv_cache_write' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<1x64x2x16xi8>'}}
  %r = llm.kv_cache_write %cache, %update, %pos : (tensor<1x64x2x16xi8>, tensor<1x4x2x16xf32>, tensor<1x4xi32>) -> tensor<1x64x2x16xf32>
  return
}

// -----

func.func @more_tokens_than_cache(%c: tensor<1x64x2x4xf32>, %u: tensor<1x200x2x4xf32>, %p: tensor<1x200xi32>) -> tensor<1x64x2x4xf32> {
  // expected-error @+1 {{'llm.kv_cache_write' op writes 200 tokens per sequence into a cache of 64 positions}}
  %0 = llm.kv_cache_write %c, %u, %p : (tensor<1x64x2x4xf32>, tensor<1x200x2x4xf32>, tensor<1x200xi32>) -> tensor<1x64x2x4xf32>
  return %0 : tensor<1x64x2x4xf32>
}
