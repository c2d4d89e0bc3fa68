// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// On a function.
// CHECK-LABEL: func.func @on_func
// CHECK-SAME: attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64, 0], vector = [1, 8, 16]>}
func.func @on_func() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 64, 0], vector = [1, 8, 16]>} {
  return
}

// On a linalg op, as kiln-assign-lowering-config attaches it; zero tile
// sizes (untiled loops) are allowed on both levels.
// CHECK-LABEL: func.func @on_linalg_matmul
// CHECK: linalg.matmul {llm.lowering_config = #llm.lowering_config<distribute = [0, 0, 0], vector = [4, 0, 64]>}
func.func @on_linalg_matmul(%a: tensor<4x64xf32>, %b: tensor<64x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %0 = linalg.matmul {llm.lowering_config = #llm.lowering_config<distribute = [0, 0, 0], vector = [4, 0, 64]>}
         ins(%a, %b : tensor<4x64xf32>, tensor<64x16xf32>) outs(%c : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// On an llm op, with a single loop and large tile sizes.
// CHECK-LABEL: func.func @on_llm_op
// CHECK: llm.add %{{[a-z0-9]+}}, %{{[a-z0-9]+}} {llm.lowering_config = #llm.lowering_config<distribute = [1024], vector = [9223372036854775807]>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
func.func @on_llm_op(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = llm.add %x, %x {llm.lowering_config = #llm.lowering_config<distribute = [1024], vector = [9223372036854775807]>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// Whitespace in the attribute is not significant.
// CHECK-LABEL: func.func @compact_spelling
// CHECK-SAME: attributes {llm.lowering_config = #llm.lowering_config<distribute = [2, 3], vector = [5, 7]>}
func.func @compact_spelling() attributes {llm.lowering_config = #llm.lowering_config<distribute=[2,3],vector=[5,7]>} {
  return
}

// Either list may be empty (no tiling at that level); lengths are only
// compared when both lists are non-empty.
// CHECK-LABEL: func.func @empty_lists
// CHECK-SAME: attributes {a = #llm.lowering_config<distribute = [], vector = [1, 8, 16]>, b = #llm.lowering_config<distribute = [1, 64], vector = []>, c = #llm.lowering_config<distribute = [], vector = []>}
func.func @empty_lists() attributes {a = #llm.lowering_config<distribute = [], vector = [1, 8, 16]>, b = #llm.lowering_config<distribute = [1, 64], vector = []>, c = #llm.lowering_config<distribute = [], vector = []>} {
  return
}

// A zero-loop linalg op gets a config with two empty lists.
// CHECK-LABEL: func.func @zero_loops
// CHECK: linalg.generic
// CHECK-SAME: {llm.lowering_config = #llm.lowering_config<distribute = [], vector = []>}
#scalar = affine_map<() -> ()>
func.func @zero_loops(%a: tensor<f32>, %b: tensor<f32>) -> tensor<f32> {
  %0 = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []}
         ins(%a : tensor<f32>) outs(%b : tensor<f32>)
         attrs = {llm.lowering_config = #llm.lowering_config<distribute = [], vector = []>} {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %0 : tensor<f32>
}

// The GPU target's optional `threads` list (threads per loop of a block's
// tile) is printed only when present.
// CHECK-LABEL: func.func @with_threads
// CHECK-SAME: attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 128, 0], vector = [], threads = [0, 128, 0]>}
func.func @with_threads() attributes {llm.lowering_config = #llm.lowering_config<distribute = [1, 128, 0], vector = [], threads = [0, 128, 0]>} {
  return
}
