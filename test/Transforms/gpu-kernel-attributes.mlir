// RUN: kiln-opt %s --split-input-file --kiln-gpu-kernel-attributes | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-gpu-kernel-attributes="min-blocks-per-sm=2" | FileCheck %s --check-prefix=TWO
// RUN: not kiln-opt %s --split-input-file --kiln-gpu-kernel-attributes="min-blocks-per-sm=0" 2>&1 | FileCheck %s --check-prefix=ZERO

// Kernels get the occupancy bound; other functions of the module do not.
// CHECK-LABEL: gpu.func @kernel
// CHECK-SAME:    kernel attributes {known_block_size = array<i32: 128, 1, 1>, nvvm.minctasm = 1 : i32}
// CHECK-LABEL: gpu.func @helper
// CHECK-NOT:     nvvm.minctasm
// TWO:         nvvm.minctasm = 2 : i32
// ZERO: error: kiln-gpu-kernel-attributes: 'min-blocks-per-sm' must be at least 1, got 0
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @kernel(%m: memref<4xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
      gpu.return
    }
    gpu.func @helper(%x: f32) -> f32 {
      gpu.return %x : f32
    }
  }
}
