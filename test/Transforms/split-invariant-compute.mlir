// RUN: kiln-opt %s --kiln-split-invariant-compute --canonicalize | FileCheck %s

// The attention output of one query tile: loops (b, s, h, d, j), j = keys.
// The softmax weight exp(s * 0.125 masked - max) / sum reads only operands
// indexed without d: it moves to a generic over (b, s, h, j), one exp per
// key. The rest multiplies by v and accumulates, with d moved innermost
// (after the key reduction), so that its inner loop runs along the output
// row and the rows of v.
// CHECK-DAG:   #[[BSHJ:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[BS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-DAG:   #[[BSH:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[V:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2, d4)>
// CHECK-DAG:   #[[P:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-LABEL: func.func @attention_output
// CHECK-SAME:    %[[S:[a-z0-9]+]]: tensor<1x8x2x?xf32>, %[[POS:[a-z0-9]+]]: tensor<1x8xi32>, %[[MAX:[a-z0-9]+]]: tensor<1x8x2xf32>, %[[SUM:[a-z0-9]+]]: tensor<1x8x2xf32>, %[[VAL:[a-z0-9]+]]: tensor<1x?x2x16xf32>
// CHECK:         %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<1x8x2x?xf32>
// CHECK:         %[[W:.*]] = linalg.generic {indexing_maps = [#[[BSHJ]], #[[BS]], #[[BSH]], #[[BSH]], #[[BSHJ]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[S]], %[[POS]], %[[MAX]], %[[SUM]] : {{.*}}) outs(%[[EMPTY]] : tensor<1x8x2x?xf32>)
// CHECK:           linalg.index 3 : index
// CHECK:           math.exp
// CHECK:           arith.divf
// CHECK:           linalg.yield
// CHECK:         %[[R:.*]] = linalg.generic {indexing_maps = [#[[V]], #[[P]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]}
// CHECK-SAME:      ins(%[[VAL]], %[[W]] : tensor<1x?x2x16xf32>, tensor<1x8x2x?xf32>) outs(%{{.*}} : tensor<1x8x2x16xf32>)
// CHECK-NEXT:    ^bb0(%[[IN_V:.*]]: f32, %[[IN_W:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[IN_W]], %[[IN_V]] : f32
// CHECK-NEXT:      %[[NEW:.*]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:      linalg.yield %[[NEW]] : f32
// CHECK:         return %[[R]]
#s = affine_map<(b, s, h, d, j) -> (b, s, h, j)>
#pos = affine_map<(b, s, h, d, j) -> (b, s)>
#row = affine_map<(b, s, h, d, j) -> (b, s, h)>
#v = affine_map<(b, s, h, d, j) -> (b, j, h, d)>
#out = affine_map<(b, s, h, d, j) -> (b, s, h, d)>
func.func @attention_output(%scores: tensor<1x8x2x?xf32>, %positions: tensor<1x8xi32>, %max: tensor<1x8x2xf32>, %sum: tensor<1x8x2xf32>, %values: tensor<1x?x2x16xf32>, %acc: tensor<1x8x2x16xf32>) -> tensor<1x8x2x16xf32> {
  %scale = arith.constant 0.125 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %0 = linalg.generic {indexing_maps = [#s, #pos, #row, #row, #v, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%scores, %positions, %max, %sum, %values : tensor<1x8x2x?xf32>, tensor<1x8xi32>, tensor<1x8x2xf32>, tensor<1x8x2xf32>, tensor<1x?x2x16xf32>)
      outs(%acc : tensor<1x8x2x16xf32>) {
  ^bb0(%in: f32, %p: i32, %m: f32, %l: f32, %val: f32, %out: f32):
    %j = linalg.index 4 : index
    %pi = arith.index_cast %p : i32 to index
    %visible = arith.cmpi sle, %j, %pi : index
    %scaled = arith.mulf %in, %scale : f32
    %masked = arith.select %visible, %scaled, %ninf : f32
    %shifted = arith.subf %masked, %m : f32
    %e = math.exp %shifted : f32
    %w = arith.divf %e, %l : f32
    %prod = arith.mulf %w, %val : f32
    %r = arith.addf %out, %prod : f32
    linalg.yield %r : f32
  } -> tensor<1x8x2x16xf32>
  return %0 : tensor<1x8x2x16xf32>
}

// The invariant part is cheap (a multiply): nothing to gain from a
// materialised tensor, the generic is left alone.
// CHECK-LABEL: func.func @cheap_invariant
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT:     linalg.generic
func.func @cheap_invariant(%a: tensor<8xf32>, %b: tensor<8x16xf32>, %acc: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %c = arith.constant 2.0 : f32
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<8xf32>, tensor<8x16xf32>) outs(%acc : tensor<8x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %t = arith.mulf %x, %c : f32
    %r = arith.addf %t, %y : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// A broadcast operand under an exp, but the exp also reads an operand
// indexed by every loop: nothing is invariant.
// CHECK-LABEL: func.func @nothing_invariant
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT:     linalg.generic
func.func @nothing_invariant(%a: tensor<8xf32>, %b: tensor<8x16xf32>, %acc: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<8xf32>, tensor<8x16xf32>) outs(%acc : tensor<8x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %t = arith.subf %y, %x : f32
    %r = math.exp %t : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// A tile that the vector level vectorizes (non-zero vector sizes) is left
// to the vectorizer, even with an invariant exp.
// CHECK-LABEL: func.func @vector_tiled
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT:     linalg.generic
func.func @vector_tiled(%a: tensor<8xf32>, %b: tensor<8x16xf32>, %acc: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<8xf32>, tensor<8x16xf32>) outs(%acc : tensor<8x16xf32>)
      attrs = {llm.lowering_config = #llm.lowering_config<distribute = [], vector = [1, 8]>} {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %e = math.exp %x : f32
    %r = arith.mulf %e, %y : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// An elementwise generic with a row-invariant exp: the exp moves to a
// generic over rows; with no reduction after the column loop there is
// nothing to interchange.
// CHECK-LABEL: func.func @row_invariant
// CHECK:         %[[E:.*]] = linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%{{.*}} : tensor<8xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK:           math.exp
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %[[E]] : tensor<8x16xf32>, tensor<8xf32>)
// CHECK-NOT:       math.exp
// CHECK:           arith.mulf
func.func @row_invariant(%a: tensor<8xf32>, %b: tensor<8x16xf32>, %acc: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<8xf32>, tensor<8x16xf32>) outs(%acc : tensor<8x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %e = math.exp %x : f32
    %r = arith.mulf %e, %y : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}
