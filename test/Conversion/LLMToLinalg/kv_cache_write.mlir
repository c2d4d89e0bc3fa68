// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// One row per (batch, token), copied by a linalg.copy into its slice of
// the cache itself (shared_outs) at the token's position, clamped into the
// cache: One-Shot Bufferize writes it in place. The rows are GPU blocks
// (the thread level shares a row's copy among threads; the CPU runs the
// forall as loops).
// CHECK-LABEL: func.func @kv_cache_write
// CHECK-SAME:    (%[[CACHE:.*]]: tensor<?x?x2x4xf32>, %[[NEW:.*]]: tensor<?x?x2x4xf32>, %[[POS:.*]]: tensor<?x?xi32>)
// CHECK:         %[[MAXCTX:.*]] = tensor.dim %[[CACHE]], %c1
// CHECK:         scf.forall (%[[B:.*]], %[[S:.*]]) in ({{.*}}) shared_outs(%[[DEST:.*]] = %[[CACHE]])
// CHECK:           %[[P:.*]] = tensor.extract %[[POS]][%[[B]], %[[S]]]
// CHECK:           %[[P0:.*]] = arith.index_cast %[[P]] : i32 to index
// CHECK:           %[[LAST:.*]] = arith.subi %[[MAXCTX]], %c1
// CHECK:           %[[LO:.*]] = arith.maxsi %[[P0]], %c0
// CHECK:           %[[PI:.*]] = arith.minsi %[[LO]], %[[LAST]]
// CHECK:           %[[ROW:.*]] = tensor.extract_slice %[[NEW]][%[[B]], %[[S]], 0, 0] [1, 1, 2, 4]
// CHECK:           %[[SLOT:.*]] = tensor.extract_slice %[[DEST]][%[[B]], %[[PI]], 0, 0] [1, 1, 2, 4]
// CHECK:           %[[COPY:.*]] = linalg.copy ins(%[[ROW]] : tensor<1x1x2x4xf32>) outs(%[[SLOT]] : tensor<1x1x2x4xf32>)
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %[[COPY]] into %[[DEST]][%[[B]], %[[PI]], 0, 0] [1, 1, 2, 4]
// CHECK:         } {mapping = [#gpu.block<linear_dim_1>, #gpu.block<linear_dim_0>]}
func.func @kv_cache_write(%c: tensor<?x?x2x4xf32>, %u: tensor<?x?x2x4xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x2x4xf32> {
  %0 = llm.kv_cache_write %c, %u, %p : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}
