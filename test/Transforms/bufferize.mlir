// RUN: kiln-opt %s --kiln-cpu-lower-to-linalg --kiln-cpu-tile --kiln-bufferize --canonicalize --cse | FileCheck %s

// The KV cache is written in place through function arguments: the private
// layer function and the public entry take the cache buffer, write the new
// rows into subviews of it, and neither allocates nor copies a cache.

// CHECK-LABEL: func.func private @layer
// CHECK-SAME:    (%arg0: memref<?x?x2x16xf32>, %[[CACHE:arg1]]: memref<?x?x2x16xf32>,
// CHECK-SAME:    -> memref<?x?x2x16xf32>
// CHECK-NOT:     memref.alloc({{.*}}) {{.*}} : memref<?x?x2x16xf32>
// CHECK:         scf.forall
// CHECK:           %[[ROW:.*]] = memref.subview %[[CACHE]][%{{.*}}, %{{.*}}, 0, 0] [1, 1, 2, 16] [1, 1, 1, 1]
// CHECK:           linalg.copy ins(%{{.*}} : memref<1x1x2x16xf32, {{.*}}>) outs(%[[ROW]] :
// CHECK:         memref.subview %[[CACHE]][0, 0, 0, 0] [%{{.*}}, %{{.*}}, 2, 16]
// CHECK-NOT:     memref.copy
// CHECK-NOT:     linalg.copy ins(%{{.*}} : memref<?x?x2x16xf32{{.*}}>)
// CHECK:         return %{{.*}} : memref<?x?x2x16xf32>
func.func private @layer(%k: tensor<?x?x2x16xf32>, %cache: tensor<?x?x2x16xf32>, %pos: tensor<?x?xi32>, %kv_len: index, %q: tensor<?x?x2x16xf32>) -> (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x?x2x16xf32>
  %new = llm.kv_cache_write %cache, %k, %pos : (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?xi32>) -> tensor<?x?x2x16xf32>
  %keys = tensor.extract_slice %new[0, 0, 0, 0] [%b, %kv_len, 2, 16] [1, 1, 1, 1] : tensor<?x?x2x16xf32> to tensor<?x?x2x16xf32>
  %a = llm.attention %q, %keys, %keys, %pos {scale = 0.25 : f32} : (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?xi32>) -> tensor<?x?x2x16xf32>
  return %a, %new : tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>
}

// The public entry no longer returns the cache it updated: the caller owns
// that buffer. Only the attention output is returned.
// CHECK-LABEL: func.func @entry
// CHECK-SAME:    (%arg0: memref<?x?x2x16xf32>, %[[ECACHE:arg1]]: memref<?x?x2x16xf32>,
// CHECK-SAME:    -> memref<?x?x2x16xf32> {
// CHECK-NOT:     memref.alloc({{.*}}) {{.*}} : memref<?x?x2x16xf32>
// CHECK:         %[[R:.*]] = call @layer(%{{.*}}, %[[ECACHE]], {{.*}}) : {{.*}} -> memref<?x?x2x16xf32>
// CHECK-NOT:     copy
// CHECK:         return %[[R]] : memref<?x?x2x16xf32>
func.func @entry(%k: tensor<?x?x2x16xf32>, %cache: tensor<?x?x2x16xf32>, %pos: tensor<?x?xi32>, %kv_len: index, %q: tensor<?x?x2x16xf32>) -> (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>) {
  %a, %new = func.call @layer(%k, %cache, %pos, %kv_len, %q) : (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?xi32>, index, tensor<?x?x2x16xf32>) -> (tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>)
  return %a, %new : tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>
}

// A public entry called from inside the module (a test driver): the calls
// lose the dropped result too, and their users read the buffer passed in.
// CHECK-LABEL: func.func @write_rows
// CHECK-SAME:    -> index
// CHECK-LABEL: func.func @driver
// CHECK-SAME:    (%[[DCACHE:arg0]]: memref<?x?x2x4xf32>
// CHECK:         call @write_rows(%[[DCACHE]], {{.*}}) : {{.*}} -> index
// CHECK:         call @write_rows(%[[DCACHE]], {{.*}}) : {{.*}} -> index
// CHECK-NOT:     copy
// CHECK:         return
func.func @write_rows(%cache: tensor<?x?x2x4xf32>, %u: tensor<?x?x2x4xf32>, %p: tensor<?x?xi32>) -> (tensor<?x?x2x4xf32>, index) {
  %c0 = arith.constant 0 : index
  %0 = llm.kv_cache_write %cache, %u, %p : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi32>) -> tensor<?x?x2x4xf32>
  %d = tensor.dim %0, %c0 : tensor<?x?x2x4xf32>
  return %0, %d : tensor<?x?x2x4xf32>, index
}
func.func @driver(%cache: tensor<?x?x2x4xf32>, %u: tensor<?x?x2x4xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x2x4xf32> {
  %0:2 = call @write_rows(%cache, %u, %p) : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi32>) -> (tensor<?x?x2x4xf32>, index)
  %1:2 = call @write_rows(%0#0, %u, %p) : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi32>) -> (tensor<?x?x2x4xf32>, index)
  return %1#0 : tensor<?x?x2x4xf32>
}
