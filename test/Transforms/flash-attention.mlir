// RUN: kiln-opt %s --split-input-file --kiln-flash-attention="key-tile=64" | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-flash-attention="key-tile=64" --kiln-convert-llm-to-linalg --canonicalize --cse --kiln-cuda-tile | FileCheck %s --check-prefix=TILE
// RUN: kiln-opt %s --split-input-file --kiln-flash-attention="key-tile=64" --kiln-convert-llm-to-linalg --canonicalize --cse --kiln-cuda-tile --kiln-cuda-to-ptx | FileCheck %s --check-prefix=PTX
// RUN: kiln-opt %s --split-input-file --kiln-flash-attention="rows-per-block=32" --kiln-convert-llm-to-linalg --canonicalize --cse --kiln-cuda-tile | FileCheck %s --check-prefix=ROWS32
// RUN: kiln-opt %s --split-input-file --kiln-flash-attention="rows-per-block=32" --kiln-convert-llm-to-linalg --canonicalize --cse --kiln-cuda-tile --kiln-cuda-to-ptx | FileCheck %s --check-prefix=ROWS32PTX

// Prefill (dynamic query length), 4 query heads on 2 KV heads (group 2):
// blocks of 16 rows = 8 query positions x 2 heads, one split of the keys.
// The block walks its keys in tiles of 64 up to its last position + 1
// (causal; key-tile=64 here, 32 by default), carrying the row maximum, row sum and output accumulator; no
// tensor has a kv_len-sized dimension inside the block.
// CHECK-LABEL: func.func @prefill
// CHECK:         %[[QB:.*]] = arith.ceildivui %{{.*}}, %c8
// CHECK:         %[[PAD:.*]] = arith.muli %[[QB]], %c8
// CHECK:         tensor.empty(%{{.*}}, %[[PAD]]) : tensor<?x1x?x2x2x16xf32>
// CHECK:         tensor.empty(%{{.*}}, %[[PAD]]) : tensor<?x1x?x2x2xf32>
// CHECK:         scf.forall ({{.*}}) in (%{{.*}}, 2, %[[QB]], 1) shared_outs
// The queries, pre-scaled, and the rows' positions.
// CHECK:           linalg.generic {{.*}} outs(%{{.*}} : tensor<16x16xf32>) attrs = {llm.lowering_config = #llm.lowering_config<distribute = [], vector = [], threads = [0, 16]>}
// CHECK:             arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:           linalg.generic {{.*}} outs(%{{.*}} : tensor<16xi32>)
// CHECK:           %[[POS:.*]]:2 = scf.for
// CHECK:           %[[LAST:.*]] = arith.addi %[[POS]]#1, %c1
// CHECK:           %[[END:.*]] = arith.minsi %{{.*}}, %[[LAST]]
// CHECK:           scf.for %[[T0:.*]] = %c0{{.*}} to %[[END]] step %c64 iter_args({{.*}}) -> (tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>)
// Scores of the tile, the new maximum, alpha = exp(m - m'), p, l and acc.
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]{{.*}} outs(%{{.*}} : tensor<16x64xf32>) attrs = {llm.lowering_config = #llm.lowering_config<distribute = [], vector = [], threads = [64, 0, 0]>}
// CHECK:               tensor.extract %arg1
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<16xf32>)
// CHECK:               arith.cmpi sle
// CHECK:               arith.maximumf
// CHECK:             linalg.generic {{.*}} outs(%{{.*}} : tensor<16xf32>)
// CHECK:               math.exp
// CHECK:             linalg.generic {{.*}} outs(%{{.*}} : tensor<16x64xf32>)
// CHECK:               math.exp
// CHECK:             arith.mulf
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:             arith.mulf
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]{{.*}} outs(%{{.*}} : tensor<16x16xf32>)
// CHECK:               tensor.extract %arg2
// CHECK:             scf.yield
// The split's output o = acc / l and its log-sum-exp m + log l, written in
// place into the block's slices.
// CHECK:           %[[ODEST:.*]] = tensor.extract_slice %{{.*}} [1, 1, 8, 1, 2, 16] [1, 1, 1, 1, 1, 1] : tensor<?x1x?x2x2x16xf32> to tensor<8x2x16xf32>
// CHECK:           %[[O:.*]] = linalg.generic {{.*}} outs(%[[ODEST]] : tensor<8x2x16xf32>)
// CHECK:             arith.divf
// CHECK:           %[[LSE:.*]] = linalg.generic
// CHECK:             math.log
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %[[O]]
// CHECK:             tensor.parallel_insert_slice %[[LSE]]
// CHECK:         } {mapping = [#gpu.block<linear_dim_3>, #gpu.block<linear_dim_2>, #gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
// The combine over the splits, on the real query positions only.
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0, 0, 0, 0] [%{{.*}}, 1, %{{.*}}, 2, 2, 16]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:           arith.maximumf
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:           math.exp
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:         tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3], [4]] : tensor<?x?x2x2x16xf32> into tensor<?x?x4x16xf32>
// CHECK-NOT:     llm.attention

// The thread level shares every op of the block among threads, with no op
// left to run on all of them.
// TILE-LABEL: func.func @prefill
// TILE:         scf.forall ({{.*}}) in (%{{.*}}, 2, %{{.*}}, 1)
// TILE:           scf.forall (%{{.*}}) in (16)
// TILE:           scf.for
// TILE:             scf.forall (%{{.*}}) in (64) shared_outs(%{{.*}}) -> (tensor<16x64xf32>)
// TILE:             } {mapping = [#gpu.thread<x>]}
// TILE:             scf.forall (%{{.*}}) in (16) shared_outs(%{{.*}}) -> (tensor<16xf32>)
// TILE:           scf.forall.in_parallel

// One kernel with the block's tiles in shared memory and barriers between
// its steps, then the combine kernels (the row maximum and the weight sum
// share one).
// The softmax's row maximum and row sum over a key tile of 32 are split
// across the 32 lanes of a warp (each lane: its key, all rows) into [rows,
// 32] partials, also with 32 rows per block (16 queries x 2 heads); the
// merges become butterflies of warp shuffles, 4 warps of 8 rows each.
// ROWS32-LABEL: func.func @prefill
// ROWS32:         scf.for
// ROWS32:           scf.forall (%{{.*}}) in (32) shared_outs(%{{.*}}) -> (tensor<32x32xf32>)
// ROWS32:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// ROWS32:             arith.maximumf
// ROWS32:           } {mapping = [#gpu.thread<x>]}
// ROWS32:           scf.forall (%{{.*}}) in (32) shared_outs(%{{.*}}) -> (tensor<32xf32>)
// ROWS32:             arith.maximumf
// ROWS32PTX-LABEL: func.func @prefill
// ROWS32PTX:       gpu.binary @prefill_kernel
// ROWS32PTX-SAME:    shfl.sync.bfly.b32
// ROWS32PTX-SAME:    max.NaN.f32

// PTX-LABEL: func.func @prefill
// PTX-COUNT-3: gpu.launch_func
// PTX-NOT:     gpu.launch_func
// PTX:       gpu.binary @prefill_kernel
// PTX-SAME:    .shared
// PTX-SAME:    bar.sync
func.func @prefill(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x2x16xf32>, %v: tensor<?x?x2x16xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x4x16xf32> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.25 : f32} : (tensor<?x?x4x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?xi32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// Decode (one query position), bf16, sliding window 8: the keys are split
// into chunks of 128 (flash decoding), one block per chunk; a block starts
// at its chunk or at the window's first key, whichever is later, and
// converts bf16 to f32 as it reads. The combine rounds to bf16 once.
// CHECK-LABEL: func.func @decode
// CHECK:         %[[SPLITS:.*]] = arith.ceildivui %{{.*}}, %c128
// CHECK:         tensor.empty(%{{.*}}, %[[SPLITS]], %{{.*}}) : tensor<?x?x?x2x2x16xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}, %{{.*}}, %[[C:.*]]) in (%{{.*}}, 2, %{{.*}}, %[[SPLITS]])
// CHECK:           %[[BEGIN:.*]] = arith.muli %[[C]], %c128
// CHECK:           %[[CHUNKEND:.*]] = arith.addi %[[BEGIN]], %c128
// CHECK:           %[[END:.*]] = arith.minsi %{{.*}}, %[[CHUNKEND]]
// CHECK:           %[[WSTART:.*]] = arith.subi %{{.*}}, %c7
// CHECK:           %[[START:.*]] = arith.maxsi %[[BEGIN]], %[[WSTART]]
// CHECK:           scf.for %{{.*}} = %[[START]] to %[[END]] step %c64 {{.*}} -> (tensor<2xf32>, tensor<2xf32>, tensor<2x16xf32>)
// CHECK:             arith.extf %{{.*}} : bf16 to f32
// CHECK:         arith.truncf %{{.*}} : f32 to bf16
func.func @decode(%q: tensor<?x1x4x16xbf16>, %k: tensor<?x?x2x16xbf16>, %v: tensor<?x?x2x16xbf16>, %p: tensor<?x1xi32>) -> tensor<?x1x4x16xbf16> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.25 : f32, sliding_window = 8 : i64} : (tensor<?x1x4x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x1xi32>) -> tensor<?x1x4x16xbf16>
  return %0 : tensor<?x1x4x16xbf16>
}
