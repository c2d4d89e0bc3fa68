// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// Sum of squares in f32 (a reduction generic), then one elementwise generic
// that normalises, rounds to bf16 (as Hugging Face does) and scales.
// CHECK-LABEL: func.func @rms_norm_bf16
// CHECK:         %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x?xf32>)
// CHECK:         %[[SUM:.*]] = linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:      outs(%[[ZERO]] : tensor<?x?xf32>)
// CHECK:           arith.extf {{.*}} : bf16 to f32
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel"]
// CHECK-SAME:      ins(%{{.*}}, %[[SUM]], %{{.*}} : tensor<?x?x16xbf16>, tensor<?x?xf32>, tensor<16xbf16>)
// CHECK:           arith.divf
// CHECK:           math.rsqrt
// CHECK:           arith.truncf {{.*}} : f32 to bf16
// CHECK:           arith.extf {{.*}} : bf16 to f32
// CHECK:           arith.mulf
// CHECK:           arith.truncf {{.*}} : f32 to bf16
func.func @rms_norm_bf16(%x: tensor<?x?x16xbf16>, %w: tensor<16xbf16>) -> tensor<?x?x16xbf16> {
  %0 = llm.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : (tensor<?x?x16xbf16>, tensor<16xbf16>) -> tensor<?x?x16xbf16>
  return %0 : tensor<?x?x16xbf16>
}

// f32 needs no casts.
// CHECK-LABEL: func.func @rms_norm_f32
// CHECK-NOT:     arith.extf
// CHECK-NOT:     arith.truncf
// CHECK:         return
func.func @rms_norm_f32(%x: tensor<3x16xf32>, %w: tensor<16xf32>) -> tensor<3x16xf32> {
  %0 = llm.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : (tensor<3x16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  return %0 : tensor<3x16xf32>
}
