// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{lowering_config: 'distribute' has 3 tile sizes but 'vector' has 2}}
func.func @distribute_longer() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64, 0], vector = [1, 8]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: 'distribute' has 1 tile sizes but 'vector' has 4}}
func.func @vector_longer() attributes {llm.lowering_config = #llm.lowering_config<distribute = [8], vector = [1, 1, 8, 16]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: tile sizes must be >= 0, got -64}}
func.func @negative_distribute() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, -64, 0], vector = [1, 8, 16]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: tile sizes must be >= 0, got -1}}
func.func @negative_vector() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64, 0], vector = [1, 8, -1]>} {
  return
}

// -----

// The length check comes before the sign check.
// expected-error @+1 {{lowering_config: 'distribute' has 2 tile sizes but 'vector' has 1}}
func.func @negative_and_mismatched() attributes {llm.lowering_config = #llm.lowering_config<distribute = [-1, 2], vector = [-3]>} {
  return
}

// -----

func.func @on_linalg_op(%a: tensor<4x64xf32>, %b: tensor<64x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{lowering_config: tile sizes must be >= 0, got -8}}
  %0 = linalg.matmul {llm.lowering_config = #llm.lowering_config<distribute = [0, 0, 0], vector = [-8, 0, 64]>}
         ins(%a, %b : tensor<4x64xf32>, tensor<64x16xf32>) outs(%c : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// expected-error @+1 {{expected ','}}
func.func @missing_vector() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 2]>} {
  return
}

// -----

// Sizes are checked even when the other list is empty.
// expected-error @+1 {{lowering_config: tile sizes must be >= 0, got -4}}
func.func @negative_with_empty_vector() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, -4], vector = []>} {
  return
}

// -----

// expected-error @+1 {{expected integer value}}
func.func @trailing_comma() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 2,], vector = [1, 2]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: 'threads' has 2 entries but 'distribute' has 3}}
func.func @threads_length() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 128, 0], vector = [], threads = [0, 128]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: 2048 threads per block, more than 1024}}
func.func @too_many_threads() attributes {llm.lowering_config = #llm.lowering_config<distribute = [32, 64], vector = [], threads = [32, 64]>} {
  return
}

// -----

// expected-error @+1 {{lowering_config: tile sizes must be >= 0, got -2}}
func.func @negative_threads() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64], vector = [], threads = [-2, 64]>} {
  return
}

// -----

// expected-error @+1 {{expected 'threads'}}
func.func @unknown_third_list() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64], vector = [], warps = [1, 2]>} {
  return
}
