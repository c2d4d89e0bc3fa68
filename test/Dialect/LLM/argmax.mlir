// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s -mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @argmax_static
// CHECK: %[[R:[0-9]+]] = llm.argmax %{{[a-z0-9]+}} : (tensor<2x32000xf32>) -> tensor<2xi32>
// CHECK: return %[[R]] : tensor<2xi32>
func.func @argmax_static(%l: tensor<2x32000xf32>) -> tensor<2xi32> {
  %r = llm.argmax %l : (tensor<2x32000xf32>) -> tensor<2xi32>
  return %r : tensor<2xi32>
}

// Dynamic batch (the entries' form); the result's batch may stay dynamic.
// CHECK-LABEL: func.func @argmax_dynamic_batch
// CHECK: llm.argmax %{{[a-z0-9]+}} : (tensor<?x128256xf32>) -> tensor<?xi32>
func.func @argmax_dynamic_batch(%l: tensor<?x128256xf32>) -> tensor<?xi32> {
  %r = llm.argmax %l : (tensor<?x128256xf32>) -> tensor<?xi32>
  return %r : tensor<?xi32>
}
