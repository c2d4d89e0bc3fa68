// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// A gather inside a linalg.generic: the id is clamped into the table and the
// row is read with tensor.extract, so the op tiles along batch/seq/hidden.
// CHECK-LABEL: func.func @embedding
// CHECK:         %[[VOCAB:.*]] = arith.constant 99 : index
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel"]
// CHECK-SAME:      ins(%{{.*}} : tensor<?x?xi32>) outs(%{{.*}} : tensor<?x?x8xbf16>)
// CHECK:           %[[ID:.*]] = arith.index_cast
// CHECK:           %[[LO:.*]] = arith.maxsi %[[ID]]
// CHECK:           %[[HI:.*]] = arith.minsi %[[LO]], %[[VOCAB]]
// CHECK:           %[[COL:.*]] = linalg.index 2
// CHECK:           tensor.extract %{{.*}}[%[[HI]], %[[COL]]] : tensor<100x8xbf16>
// CHECK-NOT:     llm.
func.func @embedding(%table: tensor<100x8xbf16>, %ids: tensor<?x?xi32>) -> tensor<?x?x8xbf16> {
  %0 = llm.embedding %table, %ids : (tensor<100x8xbf16>, tensor<?x?xi32>) -> tensor<?x?x8xbf16>
  return %0 : tensor<?x?x8xbf16>
}
