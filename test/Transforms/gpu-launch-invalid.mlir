// RUN: kiln-opt %s --split-input-file --kiln-gpu-launch -verify-diagnostics

// A kernel cannot allocate a buffer whose size it learns at run time.
func.func @dynamic_alloc(%out: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %out, %c0 : memref<?x16xf32>
  scf.forall (%i) in (%t) {
    // expected-error @+1 {{kiln-gpu-launch: a kernel cannot allocate a dynamically sized buffer ('memref<?xf32>')}}
    %buf = memref.alloc(%n) : memref<?xf32>
    scf.forall (%j) in (16) {
      %v = memref.load %buf[%j] : memref<?xf32>
      memref.store %v, %out[%i, %j] : memref<?x16xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

// Thread counts must be static.
func.func @dynamic_threads(%out: memref<8x?xf32>, %n: index) {
  %cst = arith.constant 0.0 : f32
  scf.forall (%i) in (8) {
    // expected-error @+1 {{kiln-gpu-launch: thread foralls need static, normalized trip counts}}
    scf.forall (%j) in (%n) {
      memref.store %cst, %out[%i, %j] : memref<8x?xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

func.func @too_many_threads(%out: memref<4x2048xf32>) {
  %cst = arith.constant 0.0 : f32
  // expected-error @+1 {{kiln-gpu-launch: 2048 threads per block, more than 1024}}
  scf.forall (%i) in (4) {
    scf.forall (%j) in (2048) {
      memref.store %cst, %out[%i, %j] : memref<4x2048xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

// Before bufferization, there is nothing to launch yet.
func.func @tensors(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{kiln-gpu-launch runs after bufferization (the forall still has tensor results)}}
  %r = scf.forall (%i) in (4) shared_outs(%o = %t) -> (tensor<4xf32>) {
    scf.forall.in_parallel {
    }
  } {mapping = [#gpu.block<linear_dim_0>]}
  return %r : tensor<4xf32>
}

// -----

// A write outside the thread foralls would run on every thread.
func.func @block_level_write(%out: memref<4x32xf32>) {
  %cst = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  scf.forall (%i) in (4) {
    // expected-error @+1 {{kiln-gpu-launch: writes memory outside the thread foralls of its block (every thread would write)}}
    memref.store %cst, %out[%i, %c0] : memref<4x32xf32>
    scf.forall (%j) in (32) {
      memref.store %cst, %out[%i, %j] : memref<4x32xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}
