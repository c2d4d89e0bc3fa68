// RUN: kiln-opt %s --split-input-file --kiln-assign-lowering-config=target=cuda --kiln-tile-and-fuse=level=distribute --canonicalize --cse --kiln-gpu-promote-operands --canonicalize --cse | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-assign-lowering-config=target=cuda --kiln-tile-and-fuse=level=distribute --canonicalize --cse --kiln-gpu-promote-operands=copy-bytes=16 --canonicalize --cse | FileCheck %s --check-prefix=WIDE
// RUN: not kiln-opt %s --split-input-file --kiln-gpu-promote-operands=k-tile=0 2>&1 | FileCheck %s --check-prefix=KTILE
// RUN: not kiln-opt %s --split-input-file --kiln-gpu-promote-operands=copy-bytes=3 2>&1 | FileCheck %s --check-prefix=BYTES

// A prefill GEMM block (32 tokens, dynamic at the end of the sequence, x
// 32 features, K = 64): a loop over K in steps of 32 whose operand tiles
// are copied into static tiles (the tokens padded with zeros past the
// block's count), contracted whole (every shape static) into a static
// accumulator whose block part is copied into the block's output after the
// loop.
// CHECK-LABEL: func.func @gemm
// CHECK:         scf.forall ({{.*}}) = (0, 0, 0) to (%{{.*}}, %{{.*}}, 96) step (1, 32, 32)
// CHECK:           %[[M:.*]] = affine.min
// CHECK:           %[[OUT:.*]] = tensor.extract_slice %{{.*}} [1, %[[M]], 32]
// CHECK:           %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x32x32xf32>)
// CHECK:           %[[LOOP:.*]] = scf.for %[[K:.*]] = %c0 to %c64 step %c32 iter_args(%[[C:.*]] = %[[ACC]]) -> (tensor<1x32x32xf32>)
// The A tile, 32 x 32 floats, as 32 rows of 32 threads' 4-byte vectors
// (one float; copy-bytes=4, the default), 8 rows per thread: element
// (i0 * 32 + i1) * 1 + i2 of the flat tile, tokens past the block's count
// zero.
// CHECK:             %[[A:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<32x32x1xf32>) attrs = {llm.async_copy, llm.lowering_config = #llm.lowering_config<distribute = [], vector = [], threads = [4, 32, 0]>}
// CHECK:               linalg.index 0
// CHECK:               arith.muli %{{.*}}, %c32
// CHECK:               linalg.index 1
// CHECK:               arith.cmpi ult
// CHECK:               arith.minui
// CHECK:               tensor.extract
// CHECK:               arith.select
// CHECK:             %[[AFLAT:.*]] = tensor.collapse_shape %[[A]] {{\[}}[0, 1, 2]] : tensor<32x32x1xf32> into tensor<1024xf32>
// CHECK:             %[[ATILE:.*]] = tensor.expand_shape %[[AFLAT]] {{\[}}[0, 1, 2]] output_shape [1, 32, 32]
// CHECK:             %[[B:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<32x32x1xf32>) attrs = {llm.async_copy, llm.lowering_config = #llm.lowering_config<distribute = [], vector = [], threads = [4, 32, 0]>}
// CHECK-NOT:           arith.select
// (canonicalization folds its collapse to [1024] and expand to [32, 32]
// into one collapse)
// CHECK:             %[[BTILE:.*]] = tensor.collapse_shape %[[B]] {{\[}}[0], [1, 2]] : tensor<32x32x1xf32> into tensor<32x32xf32>
// With copy-bytes=16: 8 rows of 32 threads' 4-float vectors, 2 per thread.
// WIDE-LABEL: func.func @gemm
// WIDE:         linalg.generic {{.*}} outs(%{{.*}} : tensor<8x32x4xf32>) attrs = {llm.async_copy, llm.lowering_config = #llm.lowering_config<distribute = [], vector = [], threads = [4, 32, 0]>}
// WIDE:         arith.muli %{{.*}}, %c4
// CHECK:             linalg.contract {{.*}} ins(%[[ATILE]], %[[BTILE]] : tensor<1x32x32xf32>, tensor<32x32xf32>) outs(%[[C]] : tensor<1x32x32xf32>)
// CHECK:             scf.yield
// CHECK:           %[[PART:.*]] = tensor.extract_slice %[[LOOP]][0, 0, 0] [1, %[[M]], 32]
// CHECK:           linalg.copy ins(%[[PART]] : tensor<1x?x32xf32>) outs(%[[OUT]] : tensor<1x?x32xf32>)
// CHECK:           scf.forall.in_parallel
func.func @gemm(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x96xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y = linalg.contract indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>, affine_map<(b, s, n, k) -> (n, k)>, affine_map<(b, s, n, k) -> (b, s, n)>]
      ins(%x, %w : tensor<?x?x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// Left alone: K = 48 is not a multiple of the 32-element step (the block
// reads its operands directly).
// CHECK-LABEL: func.func @k_not_multiple
// CHECK-NOT:     scf.for {{.*}} iter_args
// CHECK:         linalg.contract
// CHECK-NOT:     scf.for {{.*}} iter_args
func.func @k_not_multiple(%x: tensor<?x?x48xf32>, %w: tensor<64x48xf32>, %acc: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %y = linalg.contract indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>, affine_map<(b, s, n, k) -> (n, k)>, affine_map<(b, s, n, k) -> (b, s, n)>]
      ins(%x, %w : tensor<?x?x48xf32>, tensor<64x48xf32>) outs(%acc : tensor<?x?x64xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 32, 64, 0], vector = [], threads = [0, 4, 32, 0]>} -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// KTILE: error: kiln-gpu-promote-operands: 'k-tile' must be at least 1, got 0
// BYTES: error: kiln-gpu-promote-operands: 'copy-bytes' must be 4, 8 or 16, got 3
