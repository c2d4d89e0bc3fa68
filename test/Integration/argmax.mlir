// RUN: kiln-opt %s --kiln-cpu-pipeline | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s
// RUN: kiln-opt %s --kiln-cuda-lower-to-linalg --kiln-cuda-tile --kiln-gpu-tiling-on-cpu-bufferize --kiln-cpu-to-llvm | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s
//
// llm.argmax through the whole CPU pipeline, and tiled for the GPU (each
// row's two reductions split across the 32 lanes of a warp: lane l takes
// ids l, l + 32; the lanes' partials merged in order, as the warp's
// shuffles would) and run as CPU loops. Hand-written: the expected ids
// follow from the construction of the rows:
//   row 0: the maximum 3.5 at ids 5 and 40 (lanes 5 and 8): the lowest, 5;
//   row 1: a NaN at id 10 (and the largest number at id 20): no maximum,
//          so the vocabulary size, 64 (the runtime reports it);
//   row 2: every logit -inf: id 0 (as the runtime's sampler);
//   row 3: the maximum at the last id, 63;
//   row 4: -1 everywhere but -0.0 at id 3 and +0.0 at id 7: +0 == -0,
//          so the lowest of the two, 3.

func.func private @printMemrefI32(tensor<*xi32>)

// A function of its own, so that the batch stays dynamic (one block per
// row on the GPU, the vocabulary split across a warp).
func.func @argmax_rows(%l: tensor<?x64xf32>) -> tensor<?xi32> {
  %t = llm.argmax %l : (tensor<?x64xf32>) -> tensor<?xi32>
  return %t : tensor<?xi32>
}

func.func @main() {
  %l = arith.constant dense<[[-1.0, -0.5, 0.0, -0.875, -0.375, 3.5, -0.75, -0.25, 0.25, -0.625, -0.125, -1.0, -0.5, 0.0, -0.875, -0.375, 0.125, -0.75, -0.25, 0.25, -0.625, -0.125, -1.0, -0.5, 0.0, -0.875, -0.375, 0.125, -0.75, -0.25, 0.25, -0.625, -0.125, -1.0, -0.5, 0.0, -0.875, -0.375, 0.125, -0.75, 3.5, 0.25, -0.625, -0.125, -1.0, -0.5, 0.0, -0.875, -0.375, 0.125, -0.75, -0.25, 0.25, -0.625, -0.125, -1.0, -0.5, 0.0, -0.875, -0.375, 0.125, -0.75, -0.25, 0.25], [0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0x7FC00000, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 9.0, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25], [0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [-0.0, -0.0625, -0.125, -0.1875, -0.25, -0.3125, -0.375, -0.4375, -0.5, -0.5625, -0.625, -0.6875, -0.75, -0.8125, -0.875, -0.9375, -1.0, -1.0625, -1.125, -1.1875, -1.25, -1.3125, -1.375, -1.4375, -1.5, -1.5625, -1.625, -1.6875, -1.75, -1.8125, -1.875, -1.9375, -2.0, -2.0625, -2.125, -2.1875, -2.25, -2.3125, -2.375, -2.4375, -2.5, -2.5625, -2.625, -2.6875, -2.75, -2.8125, -2.875, -2.9375, -3.0, -3.0625, -3.125, -3.1875, -3.25, -3.3125, -3.375, -3.4375, -3.5, -3.5625, -3.625, -3.6875, -3.75, -3.8125, -3.875, 0.5], [-1.0, -1.0, -1.0, -0.0, -1.0, -1.0, -1.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0]]> : tensor<5x64xf32>
  %d = tensor.cast %l : tensor<5x64xf32> to tensor<?x64xf32>
  %t = call @argmax_rows(%d) : (tensor<?x64xf32>) -> tensor<?xi32>
  %u = tensor.cast %t : tensor<?xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}

// CHECK: rank = 1 offset = 0 sizes = [5] strides = [1] data =
// CHECK-NEXT: [5,  64,  0,  63,  3]
