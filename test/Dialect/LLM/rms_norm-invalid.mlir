// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @input_rank0(%x: tensor<f32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op expects input of rank >= 1}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<f32>, tensor<8xf32>) -> tensor<f32>
  return
}

// -----

func.func @weight_rank(%x: tensor<2x8xf32>, %w: tensor<1x8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op expects weight of rank 1 [hidden], got rank 2}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<1x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @weight_size(%x: tensor<2x3x8xf32>, %w: tensor<16xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op weight size (16) does not match input hidden size (8)}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x3x8xf32>, tensor<16xf32>) -> tensor<2x3x8xf32>
  return
}

// -----

func.func @weight_element_type(%x: tensor<2x8xf32>, %w: tensor<8xf16>) {
  // expected-error @+1 {{'llm.rms_norm' op element type of weight ('f16') does not match input ('f32')}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<8xf16>) -> tensor<2x8xf32>
  return
}

// -----

func.func @zero_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op expects a positive epsilon, got 0.000000e+00}}
  %r = llm.rms_norm %x, %w {epsilon = 0.0 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @negative_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op expects a positive epsilon, got -2.500000e-01}}
  %r = llm.rms_norm %x, %w {epsilon = -0.25 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @nan_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op expects a positive epsilon, got nan}}
  %r = llm.rms_norm %x, %w {epsilon = 0x7FC00000 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @result_rank(%x: tensor<2x3x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op result rank (2) does not match input rank (3)}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<6x8xf32>
  return
}

// -----

func.func @result_dim(%x: tensor<2x3x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op result dim 1 (4) does not match input dim 1 (3)}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @result_element_type(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op element type of result ('bf16') does not match input ('f32')}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xbf16>
  return
}

// -----

func.func @f64_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{attribute 'epsilon' failed to satisfy constraint: 32-bit float attribute}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @missing_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op requires attribute 'epsilon'}}
  %r = llm.rms_norm %x, %w : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @integer_input(%x: tensor<2x8xi32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x8xi32>'}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x8xi32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @f64_weight(%x: tensor<2x8xf32>, %w: tensor<8xf64>) {
  // expected-error @+1 {{'llm.rms_norm' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<8xf64>'}}
  %r = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<8xf64>) -> tensor<2x8xf32>
  return
}
