// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @hidden_rank(%h: tensor<10x64xf32>, %w: tensor<100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op expects hidden of rank 3 [batch, seq, hidden], got rank 2}}
  %r = llm.logits %h, %w : (tensor<10x64xf32>, tensor<100x64xf32>) -> tensor<2x100xf32>
  return
}

// -----

func.func @weight_rank(%h: tensor<2x5x64xf32>, %w: tensor<1x100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op expects weight of rank 2 [vocab, hidden], got rank 3}}
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<1x100x64xf32>) -> tensor<2x100xf32>
  return
}

// -----

func.func @result_rank(%h: tensor<2x5x64xf32>, %w: tensor<100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op expects result of rank 2 [batch, vocab], got rank 3}}
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<100x64xf32>) -> tensor<2x5x100xf32>
  return
}

// -----

func.func @weight_hidden(%h: tensor<2x5x64xf32>, %w: tensor<100x32xf32>) {
  // expected-error @+1 {{'llm.logits' op weight hidden size (32) does not match hidden size (64)}}
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<100x32xf32>) -> tensor<2x100xf32>
  return
}

// -----

func.func @result_batch(%h: tensor<2x5x64xf32>, %w: tensor<100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op result batch size (10) does not match hidden batch size (2)}}
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<100x64xf32>) -> tensor<10x100xf32>
  return
}

// -----

func.func @result_vocab(%h: tensor<2x5x64xf32>, %w: tensor<100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op result vocab size (64) does not match weight vocab size (100)}}
  %r = llm.logits %h, %w : (tensor<2x5x64xf32>, tensor<100x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @weight_element_type(%h: tensor<2x5x64xbf16>, %w: tensor<100x64xf16>) {
  // expected-error @+1 {{'llm.logits' op element type of weight ('f16') does not match hidden ('bf16')}}
  %r = llm.logits %h, %w : (tensor<2x5x64xbf16>, tensor<100x64xf16>) -> tensor<2x100xf32>
  return
}

// -----

func.func @non_f32_result(%h: tensor<2x5x64xbf16>, %w: tensor<100x64xbf16>) {
  // expected-error @+1 {{'llm.logits' op result #0 must be ranked tensor of 32-bit float values, but got 'tensor<2x100xbf16>'}}
  %r = llm.logits %h, %w : (tensor<2x5x64xbf16>, tensor<100x64xbf16>) -> tensor<2x100xbf16>
  return
}

// -----

func.func @integer_hidden(%h: tensor<2x5x64xi32>, %w: tensor<100x64xf32>) {
  // expected-error @+1 {{'llm.logits' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x5x64xi32>'}}
  %r = llm.logits %h, %w : (tensor<2x5x64xi32>, tensor<100x64xf32>) -> tensor<2x100xf32>
  return
}
