// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @input_rank1(%x: tensor<8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op expects input of rank 2 [tokens, in] or 3 [batch, seq, in], got rank 1}}
  %r = llm.linear %x, %w : (tensor<8xf32>, tensor<16x8xf32>) -> tensor<16xf32>
  return
}

// -----

func.func @input_rank4(%x: tensor<1x2x3x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op expects input of rank 2 [tokens, in] or 3 [batch, seq, in], got rank 4}}
  %r = llm.linear %x, %w : (tensor<1x2x3x8xf32>, tensor<16x8xf32>) -> tensor<1x2x3x16xf32>
  return
}

// -----

func.func @weight_rank(%x: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.linear' op expects weight of rank 2 [out, in], got rank 1}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// The weight is [out, in], not [in, out].
func.func @in_features(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'llm.linear' op input feature size (8) does not match weight in-features (16)}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @weight_element_type(%x: tensor<4x8xf32>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{'llm.linear' op element type of weight ('bf16') does not match input ('f32')}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xbf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @bias_rank(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<1x16xf32>) {
  // expected-error @+1 {{'llm.linear' op expects bias of rank 1 [out], got rank 2}}
  %r = llm.linear %x, %w, %b : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<1x16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @bias_size(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'llm.linear' op bias size (8) does not match weight out-features (16)}}
  %r = llm.linear %x, %w, %b : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @bias_element_type(%x: tensor<4x8xf16>, %w: tensor<16x8xf16>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'llm.linear' op element type of bias ('f32') does not match input ('f16')}}
  %r = llm.linear %x, %w, %b : (tensor<4x8xf16>, tensor<16x8xf16>, tensor<16xf32>) -> tensor<4x16xf16>
  return
}

// -----

func.func @result_rank(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result rank (3) does not match input rank (2)}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

func.func @result_dim0(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result dim 0 (3) does not match input dim 0 (4)}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<3x16xf32>
  return
}

// -----

func.func @result_dim1_rank3(%x: tensor<2x5x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result dim 1 (6) does not match input dim 1 (5)}}
  %r = llm.linear %x, %w : (tensor<2x5x8xf32>, tensor<16x8xf32>) -> tensor<2x6x16xf32>
  return
}

// -----

func.func @result_features(%x: tensor<2x5x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result feature size (8) does not match weight out-features (16)}}
  %r = llm.linear %x, %w : (tensor<2x5x8xf32>, tensor<16x8xf32>) -> tensor<2x5x8xf32>
  return
}

// -----

func.func @result_element_type(%x: tensor<4x8xbf16>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{'llm.linear' op element type of result ('f32') does not match input ('bf16')}}
  %r = llm.linear %x, %w : (tensor<4x8xbf16>, tensor<16x8xbf16>) -> tensor<4x16xf32>
  return
}

// -----

func.func @integer_weight(%x: tensor<4x8xf32>, %w: tensor<16x8xi8>) {
  // expected-error @+1 {{'llm.linear' op operand #1 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<16x8xi8>'}}
  %r = llm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xi8>) -> tensor<4x16xf32>
  return
}

// -----

func.func @integer_bias(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xi32>) {
  // expected-error @+1 {{'llm.linear' op operand #2 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<16xi32>'}}
  %r = llm.linear %x, %w, %b : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xi32>) -> tensor<4x16xf32>
  return
}

// -----

// Generic form: the weight is not optional.
func.func @missing_weight(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op expected 2 or more operands, but found 1}}
  %r = "llm.linear"(%x) : (tensor<4x8xf32>) -> tensor<4x16xf32>
  return
}

// -----

// Generic form: at most one bias.
func.func @two_biases(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'llm.linear' op operand group starting at #2 requires 0 or 1 element, but found 2}}
  %r = "llm.linear"(%x, %w, %b, %b) : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return
}
