// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse | FileCheck %s --check-prefix=BLOCK
// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse --kiln-tile-and-fuse=level=thread --canonicalize --cse | FileCheck %s --check-prefix=THREAD

// GPU configs (with `threads`): the distribute level is a grid of thread
// blocks, the thread level splits each block among threads.

// RMSNorm: one block per row; the row sum is fused into the block. At the
// thread level the normalisation gets 64 threads (one element each); the
// row sum, which every thread reads whole, is not recomputed per thread
// but split over 32 threads: the 64 columns become [2, 32] and thread l
// sums columns l and l + 32 (consecutive threads read consecutive
// elements) into its slot of a [1, 32] partial; one thread merges them.
// BLOCK-LABEL: func.func @rms_norm
// BLOCK:         scf.forall (%[[T:.*]], %{{.*}}) = (0, 0) to (%{{.*}}, 64) step (1, 64)
// BLOCK:           linalg.fill
// BLOCK:           linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// BLOCK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// BLOCK:         } {mapping = [#gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
// THREAD-LABEL: func.func @rms_norm
// THREAD:         scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (%{{.*}}, 64) step (1, 64)
// THREAD:           tensor.expand_shape {{.*}} output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
// THREAD:           scf.forall (%[[L:.*]]) in (32) shared_outs(%{{.*}}) -> (tensor<1x32xf32>)
// THREAD:             tensor.extract_slice %{{.*}}[0, 0, %[[L]]] [1, 2, 1] [1, 1, 1] : tensor<1x2x32xf32> to tensor<1x2x1xf32>
// THREAD:             linalg.fill
// THREAD:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// THREAD:           } {mapping = [#gpu.thread<x>]}
// THREAD:           %[[SUM:.*]] = scf.forall (%{{.*}}) in (1) shared_outs
// THREAD:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<1x32xf32>)
// THREAD:           } {mapping = [#gpu.thread<x>]}
// THREAD:           scf.forall (%[[X:.*]]) in (64) shared_outs
// THREAD:             tensor.extract_slice %{{.*}}[0, %[[X]]] [1, 1] [1, 1] : tensor<1x64xf32> to tensor<1x1xf32>
// THREAD:             linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]], %{{.*}} : tensor<1x1xf32>, tensor<1xf32>, tensor<1xf32>)
// THREAD:           } {mapping = [#gpu.thread<x>]}
// THREAD:         } {mapping = [#gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
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
      ins(%x, %sum, %w : tensor<?x64xf32>, tensor<?xf32>, tensor<64xf32>) outs(%o : tensor<?x64xf32>)
      attrs = {llm.lowering_config = #llm.lowering_config<distribute = [1, 64], vector = [], threads = [0, 64]>} {
  ^bb0(%a: f32, %s: f32, %g: f32, %out: f32):
    %m = arith.divf %s, %n : f32
    %r = math.rsqrt %m : f32
    %v = arith.mulf %a, %r : f32
    %v2 = arith.mulf %v, %g : f32
    linalg.yield %v2 : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Decode projection: blocks of 32 output features (3 blocks), 32 threads
// each; the accumulator's fill is fused into each thread's tile and the
// reduction over K stays whole in the thread.
// BLOCK-LABEL: func.func @decode_matmul
// BLOCK:         scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (1, 96) step (1, 32)
// BLOCK:         } {mapping = [#gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
// THREAD-LABEL: func.func @decode_matmul
// THREAD:         scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (1, 96) step (1, 32)
// THREAD:           scf.forall (%{{.*}}) in (32) shared_outs
// THREAD:             tensor.extract_slice {{.*}} : tensor<32x64xf32> to tensor<1x64xf32>
// THREAD:             linalg.fill {{.*}} -> tensor<1x1xf32>
// THREAD:             linalg.matmul {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x64xf32>, tensor<1x64xf32>) outs(%{{.*}} : tensor<1x1xf32>)
// THREAD:           } {mapping = [#gpu.thread<x>]}
// THREAD-NOT:     linalg.fill
func.func @decode_matmul(%x: tensor<1x64xf32>, %w: tensor<96x64xf32>) -> tensor<1x96xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x96xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<1x96xf32>) -> tensor<1x96xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<1x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<1x96xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 32, 0], vector = [], threads = [0, 32, 0]>} -> tensor<1x96xf32>
  return %y : tensor<1x96xf32>
}

// Two split loops: threads x on the innermost, y on the outer one.
// THREAD-LABEL: func.func @two_dims
// THREAD:         scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (8, 64) step (4, 32)
// THREAD:           scf.forall (%{{.*}}, %{{.*}}) in (4, 32)
// THREAD:           } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// THREAD:         } {mapping = [#gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
func.func @two_dims(%a: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [4, 32], vector = [], threads = [4, 32]>}
      ins(%a, %a : tensor<8x64xf32>, tensor<8x64xf32>) outs(%a : tensor<8x64xf32>) -> tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

// A reduction whose body reads its position (an argmax's index search),
// split across a warp: upstream splitReduction turns the vocabulary loop
// into (chunk, lane) but keeps the body, so its linalg.index is rewritten
// to the original position, chunk * 32 + lane (the lane being the thread).
// THREAD-LABEL: func.func @first_index_of_max
// THREAD:         scf.forall (%[[LANE:.*]]) in (32) shared_outs
// THREAD:           linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// THREAD:             %[[CHUNK:.*]] = linalg.index 1 : index
// THREAD:             %[[SCALED:.*]] = arith.muli %[[CHUNK]], %c32 : index
// THREAD:             %[[POS:.*]] = arith.addi %[[SCALED]], %[[LANE]] : index
// THREAD:             arith.index_cast %[[POS]] : index to i32
// THREAD:           } {mapping = [#gpu.thread<x>]}
// THREAD:         scf.forall (%{{.*}}) in (1)
// THREAD:           arith.minsi
func.func @first_index_of_max(%l: tensor<1x256xf32>, %m: tensor<1xf32>) -> tensor<1xi32> {
  %none = arith.constant 256 : i32
  %e = tensor.empty() : tensor<1xi32>
  %init = linalg.fill ins(%none : i32) outs(%e : tensor<1xi32>) -> tensor<1xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, v) -> (b, v)>, affine_map<(b, v) -> (b)>, affine_map<(b, v) -> (b)>], iterator_types = ["parallel", "reduction"]}
      ins(%l, %m : tensor<1x256xf32>, tensor<1xf32>) outs(%init : tensor<1xi32>)
      attrs = {llm.lowering_config = #llm.lowering_config<distribute = [1, 0], vector = [], threads = [0, 32]>} {
  ^bb0(%x: f32, %max: f32, %acc: i32):
    %eq = arith.cmpf oeq, %x, %max : f32
    %v = linalg.index 1 : index
    %vi = arith.index_cast %v : index to i32
    %c = arith.select %eq, %vi, %none : i32
    %min = arith.minsi %c, %acc : i32
    linalg.yield %min : i32
  } -> tensor<1xi32>
  return %r : tensor<1xi32>
}

// A split whose other parallel loop has as many elements as there are
// lanes (32 rows of a flash-attention tile): the lanes are the loop after
// the reduction, the rows stay whole in each lane. A linalg.index of a
// loop after the reduction moves up by one (the lanes come in between).
// THREAD-LABEL: func.func @rows_as_wide_as_a_warp
// THREAD:         scf.forall (%[[LANE:.*]]) in (32) shared_outs
// THREAD:           linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel", "parallel"]
// THREAD-SAME:        ins(%{{.*}} : tensor<32x2x1x4xf32>)
// THREAD:             linalg.index 3 : index
// THREAD:           } -> tensor<32x4x1xf32>
// THREAD:         } {mapping = [#gpu.thread<x>]}
func.func @rows_as_wide_as_a_warp(%s: tensor<32x64x4xf32>) -> tensor<32x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<32x4xf32>) -> tensor<32x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(r, t, c) -> (r, t, c)>, affine_map<(r, t, c) -> (r, c)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%s : tensor<32x64x4xf32>) outs(%init : tensor<32x4xf32>)
      attrs = {llm.lowering_config = #llm.lowering_config<distribute = [32, 0, 4], vector = [], threads = [0, 32, 0]>} {
  ^bb0(%x: f32, %acc: f32):
    %c = linalg.index 2 : index
    %ci = arith.index_cast %c : index to i32
    %cf = arith.sitofp %ci : i32 to f32
    %v = arith.mulf %x, %cf : f32
    %sum = arith.addf %v, %acc : f32
    linalg.yield %sum : f32
  } -> tensor<32x4xf32>
  return %r : tensor<32x4xf32>
}
