// RUN: kiln-opt %s --kiln-tile-and-fuse=level=thread -verify-diagnostics

// An op of a thread block with no loop to share among threads (a 0-d fill)
// is refused by name instead of being left where every thread would run it.
func.func @zero_loops_in_block(%out: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %cst = arith.constant 0.0 : f32
  %r = scf.forall (%i) in (4) shared_outs(%o = %out) -> (tensor<4x64xf32>) {
    %e = tensor.empty() : tensor<f32>
    // expected-error @+1 {{kiln-tile-and-fuse: cannot split this op among threads (no parallel loop, and no static reduction that is a multiple of 32)}}
    %f = linalg.fill ins(%cst : f32) outs(%e : tensor<f32>) -> tensor<f32>
    %row = tensor.extract_slice %o[%i, 0] [1, 64] [1, 1] : tensor<4x64xf32> to tensor<1x64xf32>
    %b = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
        ins(%f : tensor<f32>) outs(%row : tensor<1x64xf32>) {
    ^bb0(%x: f32, %y: f32):
      linalg.yield %x : f32
    } -> tensor<1x64xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %b into %o[%i, 0] [1, 64] [1, 1] : tensor<1x64xf32> into tensor<4x64xf32>
    }
  } {mapping = [#gpu.block<linear_dim_0>]}
  return %r : tensor<4x64xf32>
}
