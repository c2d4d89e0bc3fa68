// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// The named linalg.add.
// CHECK-LABEL: func.func @add
// CHECK:         %[[E:.*]] = tensor.empty
// CHECK:         linalg.add ins(%{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<?x?x8xf32>) outs(%[[E]] : tensor<?x?x8xf32>)
func.func @add(%a: tensor<?x?x8xf32>, %b: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = llm.add %a, %b : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
