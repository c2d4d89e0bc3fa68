// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @logits_rank(%l: tensor<2x5x100xf32>) {
  // expected-error @+1 {{'llm.argmax' op expects logits of rank 2 [batch, vocab], got rank 3}}
  %r = llm.argmax %l : (tensor<2x5x100xf32>) -> tensor<2xi32>
  return
}

// -----

func.func @result_rank(%l: tensor<2x100xf32>) {
  // expected-error @+1 {{'llm.argmax' op expects result of rank 1 [batch], got rank 2}}
  %r = llm.argmax %l : (tensor<2x100xf32>) -> tensor<2x1xi32>
  return
}

// -----

func.func @batch_mismatch(%l: tensor<2x100xf32>) {
  // expected-error @+1 {{'llm.argmax' op result batch size (3) does not match logits batch size (2)}}
  %r = llm.argmax %l : (tensor<2x100xf32>) -> tensor<3xi32>
  return
}

// -----

// The vocabulary size marks a row with a NaN: it must be known.
func.func @dynamic_vocab(%l: tensor<2x?xf32>) {
  // expected-error @+1 {{'llm.argmax' op expects a static vocab size in [1, 2^31 - 1), got ?}}
  %r = llm.argmax %l : (tensor<2x?xf32>) -> tensor<2xi32>
  return
}

// -----

func.func @bf16_logits(%l: tensor<2x100xbf16>) {
  // expected-error @+1 {{'llm.argmax' op operand #0 must be ranked tensor of 32-bit float values}}
  %r = llm.argmax %l : (tensor<2x100xbf16>) -> tensor<2xi32>
  return
}

// -----

func.func @i64_result(%l: tensor<2x100xf32>) {
  // expected-error @+1 {{'llm.argmax' op result #0 must be ranked tensor of 32-bit signless integer values}}
  %r = llm.argmax %l : (tensor<2x100xf32>) -> tensor<2xi64>
  return
}
