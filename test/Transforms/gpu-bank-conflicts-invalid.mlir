// RUN: kiln-opt %s --kiln-gpu-bank-conflicts -verify-diagnostics -o /dev/null

// The analysis needs the block size (gpu-kernel-outlining records it).
gpu.module @kernels {
  // expected-error @below {{bank-conflict analysis: @unknown_block has no known_block_size}}
  gpu.func @unknown_block() workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>>) kernel {
    %c0 = arith.constant 0 : index
    %tx = gpu.thread_id x
    %v = memref.load %tile[%tx, %c0] : memref<32x32xf32, #gpu.address_space<workgroup>>
    gpu.return
  }
}
