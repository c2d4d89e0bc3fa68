// RUN: kiln-opt %s --kiln-assign-lowering-config -split-input-file -verify-diagnostics

func.func @wrong_loop_count(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{lowering_config 'distribute' has 3 tile sizes but the op has 2 loops}}
  %0 = linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [1, 2, 3], vector = [1, 2, 3]>}
      ins(%a, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%b : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @distributed_reduction(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %acc: tensor<4x32xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{lowering_config 'distribute' tiles reduction loop 2; only parallel loops can be distributed}}
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<4x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<4x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 16, 8], vector = [1, 4, 8]>} -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}
