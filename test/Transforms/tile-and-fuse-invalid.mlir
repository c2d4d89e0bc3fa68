// RUN: kiln-opt %s --split-input-file --kiln-tile-and-fuse -verify-diagnostics
// RUN: not kiln-opt %s --split-input-file --kiln-tile-and-fuse=level=warp 2>&1 | FileCheck %s --check-prefix=LEVEL

// LEVEL: kiln-tile-and-fuse: unknown level 'warp' (expected 'distribute', 'vector' or 'thread')

func.func @distributed_reduction(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %acc: tensor<4x32xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{lowering_config 'distribute' tiles reduction loop 2; only parallel loops can be distributed}}
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<4x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<4x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 16, 8], vector = []>} -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @too_many_sizes(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{lowering_config 'distribute' has 1 tile sizes but the op has 2 loops}}
  %0 = linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [1], vector = []>}
      ins(%a, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%b : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @threads_on_both_kinds(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %acc: tensor<4x32xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{lowering_config 'threads' splits both parallel and reduction loops; split one kind}}
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<4x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<4x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 16, 0], vector = [], threads = [0, 16, 4]>} -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

