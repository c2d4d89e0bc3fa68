// RUN: kiln-opt %s --kiln-bufferize -allow-unregistered-dialect -verify-diagnostics

// An op that One-Shot Bufferize does not know cannot take tensors across a
// function boundary: the pass fails with the op named.
func.func @unknown(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{op was not bufferized}}
  %0 = "test.opaque"(%t) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
