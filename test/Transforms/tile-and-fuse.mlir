// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse | FileCheck %s --check-prefix=DIST
// RUN: kiln-opt %s --kiln-tile-and-fuse --canonicalize --cse --kiln-tile-and-fuse=level=vector --canonicalize --cse | FileCheck %s --check-prefix=VEC

// Pinned sizes: the outer level is one scf.forall over (tokens, features)
// with the fill fused into it; the inner level adds scf.for loops over
// 1 x 4 x 32 tiles, reduction included.
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
// VEC:                scf.for %{{.*}} = %c0 to %c64 step %c32
// VEC:                  linalg.matmul {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x32xf32>, tensor<4x32xf32>) outs(%{{.*}} : tensor<1x4xf32>)
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
