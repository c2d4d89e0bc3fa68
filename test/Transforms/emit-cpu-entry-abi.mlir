// RUN: kiln-opt %s --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts --kiln-emit-cpu-entry-abi --split-input-file | FileCheck %s

// An entry (llm.entry) gets a packed wrapper; allocations go through the
// hooks; private functions become internal.

// CHECK-LABEL: llvm.func internal @helper
// CHECK-LABEL: llvm.func @entry(
// CHECK:         llvm.call @kiln_malloc
// CHECK-NOT:     llvm.call @malloc
// CHECK:         llvm.call @kiln_free
// CHECK-NOT:     llvm.call @free
// CHECK-LABEL: llvm.func @kiln_entry_entry(
// CHECK-SAME:    %[[ARGS:.*]]: !llvm.ptr)
// One slot per lowered parameter: the memref (5 values) and the index.
// CHECK-COUNT-6: llvm.getelementptr %[[ARGS]][{{[0-9]+}}] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK:         %[[R:.*]] = llvm.call @entry(
// CHECK:         %[[OUT:.*]] = llvm.getelementptr %[[ARGS]][6]
// CHECK:         %[[OUTP:.*]] = llvm.load %[[OUT]]
// CHECK:         llvm.store %[[R]], %[[OUTP]]
// CHECK: llvm.mlir.global external @kiln_alloc_hook() {{.*}} : !llvm.ptr
// CHECK: llvm.mlir.global external @kiln_free_hook() {{.*}} : !llvm.ptr
// CHECK-LABEL: llvm.func internal @kiln_malloc(
// CHECK:         llvm.mlir.addressof @kiln_alloc_hook
// CHECK:         llvm.cond_br
// CHECK:         llvm.call %{{.*}}(%{{.*}}) : !llvm.ptr, (i64) -> !llvm.ptr
// CHECK:         llvm.call @malloc
// CHECK-LABEL: llvm.func internal @kiln_free(
// CHECK:         llvm.mlir.addressof @kiln_free_hook
func.func private @helper(%n: index) -> index {
  return %n : index
}
func.func @entry(%a: memref<?xf32>, %n: index) -> memref<?xf32>
    attributes {llm.entry} {
  %m = func.call @helper(%n) : (index) -> index
  %tmp = memref.alloc(%m) : memref<?xf32>
  memref.dealloc %tmp : memref<?xf32>
  %b = memref.alloc(%m) : memref<?xf32>
  return %b : memref<?xf32>
}

// -----

// Without an entry nothing is wrapped (per-op test modules).
// CHECK-NOT: kiln_entry_
// CHECK-LABEL: llvm.func @plain
func.func @plain(%a: memref<4xf32>) {
  return
}
