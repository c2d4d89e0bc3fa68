// RUN: kiln-opt %s --kiln-convert-llm-to-linalg -split-input-file -verify-diagnostics

func.func @dynamic_hidden(%x: tensor<2x?xf32>, %w: tensor<?xf32>) -> tensor<2x?xf32> {
  // expected-error @+1 {{'llm.rms_norm' op cannot be lowered: the normalised (last) dimension must be static}}
  %0 = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x?xf32>, tensor<?xf32>) -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}
