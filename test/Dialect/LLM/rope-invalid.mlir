// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @input_rank(%x: tensor<2x5x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op expects input of rank 4 [batch, seq, heads, head_dim], got rank 3}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x64xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @positions_rank(%x: tensor<2x5x8x64xf32>, %pos: tensor<10xi32>) {
  // expected-error @+1 {{'llm.rope' op expects positions of rank 2 [batch, seq], got rank 1}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<10xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @positions_batch(%x: tensor<2x5x8x64xf32>, %pos: tensor<3x5xi32>) {
  // expected-error @+1 {{'llm.rope' op positions batch size (3) does not match input batch size (2)}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<3x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @positions_seq(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x4xi64>) {
  // expected-error @+1 {{'llm.rope' op positions sequence length (4) does not match input sequence length (5)}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x4xi64>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @odd_head_dim(%x: tensor<2x5x8x7xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op expects a static, positive, even head_dim, got 7}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x7xf32>, tensor<2x5xi32>) -> tensor<2x5x8x7xf32>
  return
}

// -----

func.func @dynamic_head_dim(%x: tensor<2x5x8x?xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op expects a static, positive, even head_dim, got ?}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x?xf32>, tensor<2x5xi32>) -> tensor<2x5x8x?xf32>
  return
}

// -----

func.func @zero_theta(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op expects a positive, finite theta, got 0.000000e+00}}
  %r = llm.rope %x, %pos {theta = 0.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @negative_theta(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op expects a positive, finite theta, got -1.000000e+04}}
  %r = llm.rope %x, %pos {theta = -10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @result_rank(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op result rank (3) does not match input rank (4)}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x512xf32>
  return
}

// -----

func.func @result_dim(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op result dim 2 (4) does not match input dim 2 (8)}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x4x64xf32>
  return
}

// -----

func.func @result_element_type(%x: tensor<2x5x8x64xbf16>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op element type of result ('f32') does not match input ('bf16')}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xbf16>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @f32_theta(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{attribute 'theta' failed to satisfy constraint: 64-bit float attribute}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f32} : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @float_positions(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xf32>) {
  // expected-error @+1 {{'llm.rope' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2x5xf32>'}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xf32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @index_positions(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xindex>) {
  // expected-error @+1 {{'llm.rope' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2x5xindex>'}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xf32>, tensor<2x5xindex>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @integer_input(%x: tensor<2x5x8x64xi32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x5x8x64xi32>'}}
  %r = llm.rope %x, %pos {theta = 10000.0 : f64} : (tensor<2x5x8x64xi32>, tensor<2x5xi32>) -> tensor<2x5x8x64xi32>
  return
}

// -----

func.func @missing_theta(%x: tensor<2x5x8x64xf32>, %pos: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.rope' op requires attribute 'theta'}}
  %r = llm.rope %x, %pos : (tensor<2x5x8x64xf32>, tensor<2x5xi32>) -> tensor<2x5x8x64xf32>
  return
}

// -----

func.func @infinite_theta(%x: tensor<1x2x2x8xf32>, %p: tensor<1x2xi32>) -> tensor<1x2x2x8xf32> {
  // expected-error @+1 {{'llm.rope' op expects a positive, finite theta, got INF}}
  %0 = llm.rope %x, %p {theta = 0x7FF0000000000000 : f64} : (tensor<1x2x2x8xf32>, tensor<1x2xi32>) -> tensor<1x2x2x8xf32>
  return %0 : tensor<1x2x2x8xf32>
}

// -----

func.func @inv_freq_length(%x: tensor<1x2x2x8xf32>, %p: tensor<1x2xi32>) -> tensor<1x2x2x8xf32> {
  // expected-error @+1 {{'llm.rope' op expects inv_freq to have head_dim/2 = 4 values, got 3}}
  %0 = llm.rope %x, %p {theta = 10000.0 : f64, inv_freq = array<f64: 1.0, 0.5, 0.25>} : (tensor<1x2x2x8xf32>, tensor<1x2xi32>) -> tensor<1x2x2x8xf32>
  return %0 : tensor<1x2x2x8xf32>
}

// -----

func.func @inv_freq_negative(%x: tensor<1x2x2x4xf32>, %p: tensor<1x2xi32>) -> tensor<1x2x2x4xf32> {
  // expected-error @+1 {{'llm.rope' op expects positive, finite inv_freq values, got -5.000000e-01}}
  %0 = llm.rope %x, %p {theta = 10000.0 : f64, inv_freq = array<f64: 1.0, -0.5>} : (tensor<1x2x2x4xf32>, tensor<1x2xi32>) -> tensor<1x2x2x4xf32>
  return %0 : tensor<1x2x2x4xf32>
}
