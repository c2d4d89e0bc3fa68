// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @query_rank(%q: tensor<1x4x128xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects query of rank 4 [batch, seq, heads, head_dim], got rank 3}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x128xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x128xf32>
  return
}

// -----

func.func @keys_rank(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x32xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects keys of rank 4 [batch, kv_len, kv_heads, head_dim], got rank 3}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x32xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @values_rank(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x4x4xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects values of rank 4 [batch, kv_len, kv_heads, head_dim], got rank 5}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x4x4xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @positions_rank(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4x1xi32>) {
  // expected-error @+1 {{'llm.attention' op expects positions of rank 2 [batch, seq], got rank 3}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4x1xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @positions_batch(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<2x4xi32>) {
  // expected-error @+1 {{'llm.attention' op positions batch size (2) does not match query batch size (1)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<2x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @positions_seq(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x5xi64>) {
  // expected-error @+1 {{'llm.attention' op positions sequence length (5) does not match query sequence length (4)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x5xi64>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @values_kv_len(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x16x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op values dim 1 (16) does not match keys dim 1 (32)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x16x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @values_kv_heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x4x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op values dim 2 (4) does not match keys dim 2 (2)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x4x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @values_element_type(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf16>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op element type of values ('f16') does not match keys ('f32')}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf16>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @keys_element_type(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xbf16>, %v: tensor<1x32x2x16xbf16>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op element type of keys ('bf16') does not match query ('f32')}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xbf16>, tensor<1x32x2x16xbf16>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @keys_batch(%q: tensor<1x4x8x16xf32>, %k: tensor<2x32x2x16xf32>, %v: tensor<2x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op keys batch size (2) does not match query batch size (1)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<2x32x2x16xf32>, tensor<2x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @keys_head_dim(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x32xf32>, %v: tensor<1x32x2x32xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op keys head_dim (32) does not match query head_dim (16)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x32xf32>, tensor<1x32x2x32xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @dynamic_num_heads(%q: tensor<1x4x?x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects static head counts and head_dim}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x?x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x?x16xf32>
  return
}

// -----

func.func @dynamic_num_kv_heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x?x16xf32>, %v: tensor<1x32x?x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects static head counts and head_dim}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x?x16xf32>, tensor<1x32x?x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @dynamic_head_dim(%q: tensor<1x4x8x?xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects static head counts and head_dim}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x?xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x?xf32>
  return
}

// -----

func.func @heads_not_multiple(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x3x16xf32>, %v: tensor<1x32x3x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op num_heads (8) must be a multiple of num_kv_heads (3)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x3x16xf32>, tensor<1x32x3x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @more_kv_heads_than_heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x16x16xf32>, %v: tensor<1x32x16x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op num_heads (8) must be a multiple of num_kv_heads (16)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x16x16xf32>, tensor<1x32x16x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @zero_kv_heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x0x16xf32>, %v: tensor<1x32x0x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects positive head counts and head_dim, got 8 heads, 0 kv heads, head_dim 16}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x0x16xf32>, tensor<1x32x0x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @zero_scale(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects a positive scale, got 0.000000e+00}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.0 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @negative_scale(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op expects a positive scale, got -2.500000e-01}}
  %r = llm.attention %q, %k, %v, %pos {scale = -0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @result_rank(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op result rank (3) does not match query rank (4)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x128xf32>
  return
}

// -----

// The result has the query's head count, not the KV head count.
func.func @result_dim(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op result dim 2 (2) does not match query dim 2 (8)}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x2x16xf32>
  return
}

// -----

func.func @result_element_type(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op element type of result ('bf16') does not match query ('f32')}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xbf16>
  return
}

// -----

func.func @zero_sliding_window(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{attribute 'sliding_window' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32, sliding_window = 0 : i64} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @negative_sliding_window(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{attribute 'sliding_window' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32, sliding_window = -8 : i64} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @i32_sliding_window(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{attribute 'sliding_window' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32, sliding_window = 8 : i32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @f64_scale(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{attribute 'scale' failed to satisfy constraint: 32-bit float attribute}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f64} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @missing_scale(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op requires attribute 'scale'}}
  %r = llm.attention %q, %k, %v, %pos : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @float_positions(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xf32>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xf32>) {
  // expected-error @+1 {{'llm.attention' op operand #3 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<1x4xf32>'}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xf32>, tensor<1x32x2x16xf32>, tensor<1x4xf32>) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @integer_keys(%q: tensor<1x4x8x16xf32>, %k: tensor<1x32x2x16xi8>, %v: tensor<1x32x2x16xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @+1 {{'llm.attention' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<1x32x2x16xi8>'}}
  %r = llm.attention %q, %k, %v, %pos {scale = 0.25 : f32} : (tensor<1x4x8x16xf32>, tensor<1x32x2x16xi8>, tensor<1x32x2x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8x16xf32>
  return
}
