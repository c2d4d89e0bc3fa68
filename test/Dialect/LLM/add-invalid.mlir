// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @operand_rank(%lhs: tensor<4x16xf32>, %rhs: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'llm.add' op rhs rank (3) does not match lhs rank (2)}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<1x4x16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @operand_dim(%lhs: tensor<4x16xf32>, %rhs: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.add' op rhs dim 1 (8) does not match lhs dim 1 (16)}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x8xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @operand_element_type(%lhs: tensor<4x16xf32>, %rhs: tensor<4x16xf16>) {
  // expected-error @+1 {{'llm.add' op element type of rhs ('f16') does not match lhs ('f32')}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x16xf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @result_rank(%lhs: tensor<4x16xf32>, %rhs: tensor<4x16xf32>) {
  // expected-error @+1 {{'llm.add' op result rank (1) does not match lhs rank (2)}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @result_dim(%lhs: tensor<4x?xf32>, %rhs: tensor<?x16xf32>) {
  // expected-error @+1 {{'llm.add' op result dim 0 (5) does not match lhs dim 0 (4)}}
  %r = llm.add %lhs, %rhs : (tensor<4x?xf32>, tensor<?x16xf32>) -> tensor<5x16xf32>
  return
}

// -----

func.func @result_element_type(%lhs: tensor<4x16xbf16>, %rhs: tensor<4x16xbf16>) {
  // expected-error @+1 {{'llm.add' op element type of result ('f32') does not match lhs ('bf16')}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xbf16>, tensor<4x16xbf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @integer_operand(%lhs: tensor<4x16xi32>, %rhs: tensor<4x16xi32>) {
  // expected-error @+1 {{'llm.add' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xi32>'}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xi32>, tensor<4x16xi32>) -> tensor<4x16xi32>
  return
}

// -----

func.func @f64_operand(%lhs: tensor<4x16xf32>, %rhs: tensor<4x16xf64>) {
  // expected-error @+1 {{'llm.add' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4x16xf64>'}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x16xf64>) -> tensor<4x16xf32>
  return
}

// -----

func.func @unranked_result(%lhs: tensor<4x16xf32>, %rhs: tensor<4x16xf32>) {
  // expected-error @+1 {{'llm.add' op result #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<*xf32>'}}
  %r = llm.add %lhs, %rhs : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<*xf32>
  return
}
