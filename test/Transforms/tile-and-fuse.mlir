// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse | FileCheck %s --check-prefix=DIST
// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse --kiln-tile-and-fuse=level=vector --canonicalize --cse | FileCheck %s --check-prefix=VEC

// Pinned sizes: the outer level is one scf.forall over (tokens, features)
// with the fill fused into it. The inner level tiles the parallel loops by
// 1 x 4; the reduction (a multiple of 16, so the pinned 32 only marks it as
// tiled) is split instead: partial sums in 16 lanes (an all-parallel
// generic on 1 x 4 x 16) accumulate over the whole reduction, and one
// linalg.reduce folds the lanes into the output tile at the end.
// DIST-LABEL: func.func @matmul
// DIST:         scf.forall (%[[M:.*]], %[[N:.*]]) = (0, 0) to (%{{.*}}, 32) step (2, 16)
// DIST:           %[[FILL:.*]] = linalg.fill {{.*}} -> tensor<?x16xf32>
// DIST:           linalg.matmul {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<16x64xf32>) outs(%[[FILL]] : tensor<?x16xf32>)
// DIST:           scf.forall.in_parallel
// DIST-NOT:     linalg.fill
// VEC-LABEL:  func.func @matmul
// VEC:          scf.forall
// VEC:            linalg.fill
// VEC:            scf.for
// VEC:              scf.for %{{.*}} = %c0 to %c16 step %c4
// VEC:                %[[OUT:.*]] = tensor.extract_slice {{.*}} : tensor<?x16xf32> to tensor<1x4xf32>
// VEC:                %[[EMPTY:.*]] = tensor.empty() : tensor<1x4x16xf32>
// VEC:                %[[ZERO:.*]] = linalg.fill {{.*}} outs(%[[EMPTY]] : tensor<1x4x16xf32>)
// VEC:                %[[PARTIAL:.*]] = scf.for %{{.*}} = %c0 to %c64 step %c16 iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (tensor<1x4x16xf32>)
// VEC:                  linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<1x16xf32>, tensor<4x16xf32>) outs(%[[ACC]] : tensor<1x4x16xf32>)
// VEC:                    arith.mulf
// VEC:                    arith.addf
// VEC:                linalg.reduce ins(%[[PARTIAL]] : tensor<1x4x16xf32>) outs(%[[OUT]] : tensor<1x4xf32>) dimensions = [2]
// VEC-NOT:            linalg.matmul
func.func @matmul(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<?x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [2, 16, 0], vector = [1, 4, 32]>} -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// An elementwise producer without a config is fused into its consumer's
// tile and disappears from the top level. A producer with 'distribute'
// sizes of its own is a separate root and is not fused.
// DIST-LABEL: func.func @elementwise_chain
// DIST:         %[[ROOT1:.*]] = scf.forall {{.*}} step (1, 4)
// DIST:           linalg.exp
// DIST:         scf.forall {{.*}} step (2, 8)
// DIST-NOT:       linalg.exp
// DIST:           linalg.negf
// DIST:           linalg.add {{.*}}ins(%{{.*}}, %{{.*}} : tensor<2x8xf32>, tensor<2x8xf32>)
// DIST-NOT:     linalg.negf
func.func @elementwise_chain(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %0 = linalg.exp {llm.lowering_config = #llm.lowering_config<distribute = [1, 4], vector = [1, 4]>}
      ins(%a : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  %1 = linalg.negf ins(%b : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  %2 = linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [2, 8], vector = [1, 8]>}
      ins(%0, %1 : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  return %2 : tensor<8x16xf32>
}

// A reduction that is not a multiple of 16 is tiled like the parallel loops
// (1 x 4 x 8 tiles, 24 -> 3 steps) and not split.
// VEC-LABEL:  func.func @matmul_odd_reduction
// VEC:          scf.forall
// VEC:            scf.for
// VEC:              scf.for %{{.*}} = %c0 to %c16 step %c4
// VEC:                scf.for %{{.*}} = %c0 to %c24 step %c8
// VEC:                  linalg.matmul {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x8xf32>, tensor<4x8xf32>) outs(%{{.*}} : tensor<1x4xf32>)
// VEC-NOT:      linalg.reduce
func.func @matmul_odd_reduction(%x: tensor<?x24xf32>, %w: tensor<32x24xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x24xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  %0 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x24xf32>, tensor<32x24xf32>) outs(%acc : tensor<?x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [2, 16, 0], vector = [1, 4, 8]>} -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// No recomputation per inner tile. The activation of a matmul (an exp here,
// fused into the outer tile) is read through a map that ignores the tiled
// output features, so at the vector level it stays outside the scf.for
// loops: computed once per outer tile, not once per 4 output features. The
// elementwise producer of the epilogue's other operand is read along every
// tiled loop and is fused into the inner tile.
// DIST-LABEL: func.func @no_recompute
// DIST:         scf.forall {{.*}} step (2, 16)
// DIST:           linalg.exp {{.*}} -> tensor<?x64xf32>
// DIST:           linalg.matmul
// DIST:           linalg.negf {{.*}} -> tensor<?x16xf32>
// DIST:           linalg.add
// VEC-LABEL:  func.func @no_recompute
// VEC:          scf.forall
// VEC:            %[[ACT:.*]] = linalg.exp {{.*}} -> tensor<?x64xf32>
// VEC-NOT:        linalg.exp
// VEC:            scf.for
// VEC:              scf.for %{{.*}} = %c0 to %c16 step %c4
// VEC:                tensor.extract_slice %[[ACT]]
// VEC:                scf.for %{{.*}} = %c0 to %c64 step %c16
// VEC:                  linalg.generic
// VEC:                linalg.reduce
// VEC-NOT:        linalg.exp
// VEC:            scf.for
// VEC:              scf.for %{{.*}} = %c0 to %c16 step %c8
// VEC:                linalg.negf {{.*}} -> tensor<1x8xf32>
// VEC:                linalg.add {{.*}} -> tensor<1x8xf32>
func.func @no_recompute(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>, %r: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %ex = tensor.empty(%m) : tensor<?x64xf32>
  %act = linalg.exp ins(%x : tensor<?x64xf32>) outs(%ex : tensor<?x64xf32>) -> tensor<?x64xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  %mm = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%act, %w : tensor<?x64xf32>, tensor<32x64xf32>) outs(%acc : tensor<?x32xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [], vector = [1, 4, 16]>} -> tensor<?x32xf32>
  %neg = linalg.negf ins(%r : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  %0 = linalg.add {llm.lowering_config = #llm.lowering_config<distribute = [2, 16], vector = [1, 8]>}
      ins(%mm, %neg : tensor<?x32xf32>, tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}
