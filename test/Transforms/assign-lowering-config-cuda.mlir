// RUN: kiln-opt %s --kiln-assign-lowering-config=target=cuda | FileCheck %s

// The GPU heuristic: one thread block per tile of the innermost static
// parallel loop (a divisor of it, whole warps preferred, at most 128), one
// row of each other parallel loop, reductions whole; one thread per element
// of the tile.

// CHECK-LABEL: func.func @rms_norm
// The row sum is fused into the normalisation's blocks: no config.
// CHECK:         linalg.generic
// CHECK-NOT:       llm.lowering_config
// CHECK-SAME:      iterator_types = ["parallel", "reduction"]
// CHECK:         linalg.generic
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 64], vector = [], threads = [0, 64]>
#id = affine_map<(t, h) -> (t, h)>
#row = affine_map<(t, h) -> (t)>
#col = affine_map<(t, h) -> (h)>
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x64xf32>) outs(%acc : tensor<?xf32>) {
  ^bb0(%a: f32, %s: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %s, %sq : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %o = tensor.empty(%t) : tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %w : tensor<?x64xf32>, tensor<?xf32>, tensor<64xf32>) outs(%o : tensor<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %out: f32):
    %m = arith.divf %s, %n : f32
    %r = math.rsqrt %m : f32
    %v = arith.mulf %a, %r : f32
    %v2 = arith.mulf %v, %g : f32
    linalg.yield %v2 : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// A decode-step projection (one token): one output per block, its
// reduction over K split across a warp of 32 threads.
// CHECK-LABEL: func.func @decode_matmul
// CHECK:         linalg.matmul
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 1, 0], vector = [], threads = [0, 0, 32]>
func.func @decode_matmul(%x: tensor<1x64xf32>, %w: tensor<96x64xf32>) -> tensor<1x96xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x96xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<1x96xf32>) -> tensor<1x96xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<1x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<1x96xf32>) -> tensor<1x96xf32>
  return %y : tensor<1x96xf32>
}

// 4096 = 32 x 128: blocks of 128. 1000 has no multiple of 32 among its
// divisors: the largest divisor up to 128 (125).
// CHECK-LABEL: func.func @widths
// CHECK:         linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [1, 128], vector = [], threads = [0, 128]>}
// CHECK:         linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [1, 125], vector = [], threads = [0, 125]>}
func.func @widths(%a: tensor<?x4096xf32>, %b: tensor<?x1000xf32>) -> (tensor<?x4096xf32>, tensor<?x1000xf32>) {
  %0 = linalg.add ins(%a, %a : tensor<?x4096xf32>, tensor<?x4096xf32>) outs(%a : tensor<?x4096xf32>) -> tensor<?x4096xf32>
  %1 = linalg.add ins(%b, %b : tensor<?x1000xf32>, tensor<?x1000xf32>) outs(%b : tensor<?x1000xf32>) -> tensor<?x1000xf32>
  return %0, %1 : tensor<?x4096xf32>, tensor<?x1000xf32>
}

// A prefill projection (tokens dynamic, more than one dynamic parallel
// loop; K a multiple of 32): a GEMM, blocks of 32 tokens x 32 features
// (96 is not a multiple of 64) on 4 x 16 threads, each 8 tokens x 2
// features; kiln-gpu-promote-operands stages its operand tiles.
// CHECK-LABEL: func.func @prefill_matmul
// CHECK:         linalg.contract
// CHECK-SAME:      llm.lowering_config = #llm.lowering_config<distribute = [1, 32, 32, 0], vector = [], threads = [0, 4, 16, 0]>
func.func @prefill_matmul(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %acc: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %y = linalg.contract indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>, affine_map<(b, s, n, k) -> (n, k)>, affine_map<(b, s, n, k) -> (b, s, n)>]
      ins(%x, %w : tensor<?x?x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}
