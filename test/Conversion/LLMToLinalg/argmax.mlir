// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// Two single-result reductions over the vocabulary, so that each can be
// split across threads and merged with one combiner: the row maximum
// (maximumf from -inf: a NaN propagates), then the lowest index whose logit
// equals it (minsi from vocab = 50; a row with a NaN matches nowhere and
// keeps 50).
// CHECK-DAG:   #[[ALL:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @argmax
// CHECK-SAME:    (%[[L:.*]]: tensor<?x50xf32>)
// CHECK-DAG:     %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[VOCAB:.*]] = arith.constant 50 : i32
// CHECK:         %[[MAXINIT:.*]] = linalg.fill ins(%[[NEGINF]] : f32)
// CHECK:         %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[ALL]], #[[ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:      ins(%[[L]] : tensor<?x50xf32>)
// CHECK-SAME:      outs(%[[MAXINIT]] : tensor<?xf32>)
// CHECK:           arith.maximumf
// CHECK:         %[[FIRSTINIT:.*]] = linalg.fill ins(%[[VOCAB]] : i32)
// CHECK:         %[[FIRST:.*]] = linalg.generic {indexing_maps = [#[[ALL]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:      ins(%[[L]], %[[MAX]] : tensor<?x50xf32>, tensor<?xf32>)
// CHECK-SAME:      outs(%[[FIRSTINIT]] : tensor<?xi32>)
// CHECK:         ^bb0(%[[X:.*]]: f32, %[[M:.*]]: f32, %[[ACC:.*]]: i32):
// CHECK:           %[[EQ:.*]] = arith.cmpf oeq, %[[X]], %[[M]] : f32
// CHECK:           %[[V:.*]] = linalg.index 1 : index
// CHECK:           %[[VI:.*]] = arith.index_cast %[[V]] : index to i32
// CHECK:           %[[C:.*]] = arith.select %[[EQ]], %[[VI]], %[[VOCAB]] : i32
// CHECK:           %[[MIN:.*]] = arith.minsi %[[C]], %[[ACC]] : i32
// CHECK:           linalg.yield %[[MIN]] : i32
// CHECK:         return %[[FIRST]] : tensor<?xi32>
func.func @argmax(%l: tensor<?x50xf32>) -> tensor<?xi32> {
  %0 = llm.argmax %l : (tensor<?x50xf32>) -> tensor<?xi32>
  return %0 : tensor<?xi32>
}

// A static result type is kept.
// CHECK-LABEL: func.func @argmax_static
// CHECK:         linalg.generic
// CHECK:         %[[R:.*]] = linalg.generic
// CHECK:         return %[[R]] : tensor<4xi32>
func.func @argmax_static(%l: tensor<4x64xf32>) -> tensor<4xi32> {
  %0 = llm.argmax %l : (tensor<4x64xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}
