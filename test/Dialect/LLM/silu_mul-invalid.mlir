// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @operand_rank(%gate: tensor<4x16xf32>, %up: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'llm.silu_mul' op up rank (3) does not match gate rank (2)}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<1x4x16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @operand_dim(%gate: tensor<4x16xf32>, %up: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.silu_mul' op up dim 1 (8) does not match gate dim 1 (16)}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x8xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @operand_element_type(%gate: tensor<4x16xf32>, %up: tensor<4x16xf16>) {
  // expected-error @+1 {{'llm.silu_mul' op element type of up ('f16') does not match gate ('f32')}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x16xf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @result_rank(%gate: tensor<4x16xf32>, %up: tensor<4x16xf32>) {
  // expected-error @+1 {{'llm.silu_mul' op result rank (1) does not match gate rank (2)}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @result_dim(%gate: tensor<4x?xf32>, %up: tensor<?x16xf32>) {
  // expected-error @+1 {{'llm.silu_mul' op result dim 0 (5) does not match gate dim 0 (4)}}
  %r = llm.silu_mul %gate, %up : (tensor<4x?xf32>, tensor<?x16xf32>) -> tensor<5x16xf32>
  return
}

// -----

func.func @result_element_type(%gate: tensor<4x16xbf16>, %up: tensor<4x16xbf16>) {
  // expected-error @+1 {{'llm.silu_mul' op element type of result ('f32') does not match gate ('bf16')}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xbf16>, tensor<4x16xbf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @integer_operand(%gate: tensor<4x16xi32>, %up: tensor<4x16xi32>) {
  // expected-error @+1 {{'llm.silu_mul' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xi32>'}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xi32>, tensor<4x16xi32>) -> tensor<4x16xi32>
  return
}

// -----

func.func @f64_operand(%gate: tensor<4x16xf32>, %up: tensor<4x16xf64>) {
  // expected-error @+1 {{'llm.silu_mul' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xf64>'}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x16xf64>) -> tensor<4x16xf32>
  return
}

// -----

func.func @unranked_result(%gate: tensor<4x16xf32>, %up: tensor<4x16xf32>) {
  // expected-error @+1 {{'llm.silu_mul' op result #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<*xf32>'}}
  %r = llm.silu_mul %gate, %up : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<*xf32>
  return
}
