// RUN: kiln-opt %s --kiln-assign-lowering-config | FileCheck %s

// A matmul epilogue roots the group: tokens in blocks of 8, output features
// in blocks of 64. The contraction it fuses keeps an inner-level config of
// its own (no 'distribute'), and the fill gets none.
// CHECK-LABEL: func.func @linear_epilogue
// CHECK:         linalg.fill
// CHECK-NOT:       llm.lowering_config
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [], vector = [1, 1, 8, 64]>
// CHECK:         linalg.generic
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 8, 64], vector = [1, 1, 8]>
#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (n, k)>
#o = affine_map<(b, s, n, k) -> (b, s, n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
func.func @linear_epilogue(%x: tensor<?x?x64xbf16>, %w: tensor<128x64xbf16>) -> tensor<?x?x128xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x?x64xbf16>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xbf16>
  %e = tensor.empty(%b, %s) : tensor<?x?x128xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %mm = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %w : tensor<?x?x64xbf16>, tensor<128x64xbf16>) outs(%acc : tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x128xbf16>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%mm : tensor<?x?x128xf32>) outs(%e2 : tensor<?x?x128xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x128xbf16>
  return %r : tensor<?x?x128xbf16>
}

// Output features that are not a multiple of 64 use the largest divisor
// (300 -> 60, then 6 for the inner tile); the reduction 96 -> 48.
// CHECK-LABEL: func.func @odd_sizes
// CHECK:         linalg.matmul
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [8, 60, 0], vector = [1, 6, 48]>
func.func @odd_sizes(%x: tensor<?x96xf32>, %w: tensor<300x96xf32>, %acc: tensor<?x300xf32>) -> tensor<?x300xf32> {
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x96xf32>, tensor<300x96xf32>) outs(%acc : tensor<?x300xf32>) -> tensor<?x300xf32>
  return %0 : tensor<?x300xf32>
}

// A config already in the IR is kept: tests and tuning pin tile sizes.
// CHECK-LABEL: func.func @pinned
// CHECK:         linalg.matmul
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [2, 16, 0], vector = [1, 4, 32]>
func.func @pinned(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>, %acc: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<?x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [2, 16, 0], vector = [1, 4, 32]>} -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// Elementwise ops with more than one user root their own group; the hidden
// dimension stays whole at the outer level.
// CHECK-LABEL: func.func @multi_use
// CHECK:         linalg.add
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 8, 0], vector = [1, 1, 8]>
func.func @multi_use(%a: tensor<?x?x32xf32>, %b: tensor<?x?x32xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %0 = linalg.add ins(%a, %b : tensor<?x?x32xf32>, tensor<?x?x32xf32>) outs(%a : tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %1 = linalg.add ins(%0, %0 : tensor<?x?x32xf32>, tensor<?x?x32xf32>) outs(%b : tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %0, %1 : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// A producer is not fused into a consumer that would recompute it for every
// outer tile. The down projection reads the silu(gate) * up generic through
// a map that ignores its output features, which it splits into two blocks
// of 64: the generic roots its own group (with the gate and up projections
// fused into it, tiled like it) instead of being evaluated once per block.
// CHECK-LABEL: func.func @mlp_split
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [], vector = [1, 1, 8, 64]>
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [], vector = [1, 1, 8, 64]>
// CHECK:         linalg.generic
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 8, 64], vector = [1, 1, 8]>
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 8, 64, 0], vector = [1, 1, 8, 64]>
func.func @mlp_split(%x: tensor<?x?x64xf32>, %wg: tensor<256x64xf32>, %wu: tensor<256x64xf32>, %wd: tensor<128x256xf32>) -> tensor<?x?x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x256xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %g = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %wg : tensor<?x?x64xf32>, tensor<256x64xf32>) outs(%acc : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %u = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %wu : tensor<?x?x64xf32>, tensor<256x64xf32>) outs(%acc : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %h = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %u : tensor<?x?x256xf32>, tensor<?x?x256xf32>) outs(%e : tensor<?x?x256xf32>) {
  ^bb0(%in: f32, %in_u: f32, %out: f32):
    %n = arith.negf %in : f32
    %ex = math.exp %n : f32
    %d = arith.addf %ex, %one : f32
    %sg = arith.divf %in, %d : f32
    %r = arith.mulf %sg, %in_u : f32
    linalg.yield %r : f32
  } -> tensor<?x?x256xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x128xf32>
  %acc2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %y = linalg.contract indexing_maps = [#x, #w, #o] ins(%h, %wd : tensor<?x?x256xf32>, tensor<128x256xf32>) outs(%acc2 : tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  return %y : tensor<?x?x128xf32>
}

// With 64 output features the down projection is one block: the generic is
// computed once per token tile anyway and stays fused (no config).
// CHECK-LABEL: func.func @mlp_one_tile
// CHECK:         linalg.generic
// CHECK-NOT:       llm.lowering_config
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 8, 64, 0], vector = [1, 1, 8, 64]>
func.func @mlp_one_tile(%x: tensor<?x?x64xf32>, %wg: tensor<256x64xf32>, %wu: tensor<256x64xf32>, %wd: tensor<64x256xf32>) -> tensor<?x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x256xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %g = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %wg : tensor<?x?x64xf32>, tensor<256x64xf32>) outs(%acc : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %u = linalg.contract indexing_maps = [#x, #w, #o] ins(%x, %wu : tensor<?x?x64xf32>, tensor<256x64xf32>) outs(%acc : tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %h = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %u : tensor<?x?x256xf32>, tensor<?x?x256xf32>) outs(%e : tensor<?x?x256xf32>) {
  ^bb0(%in: f32, %in_u: f32, %out: f32):
    %n = arith.negf %in : f32
    %ex = math.exp %n : f32
    %d = arith.addf %ex, %one : f32
    %sg = arith.divf %in, %d : f32
    %r = arith.mulf %sg, %in_u : f32
    linalg.yield %r : f32
  } -> tensor<?x?x256xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %acc2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %y = linalg.contract indexing_maps = [#x, #w, #o] ins(%h, %wd : tensor<?x?x256xf32>, tensor<64x256xf32>) outs(%acc2 : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}
