// RUN: kiln-opt %s --kiln-convert-llm-to-linalg --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @silu_mul
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           %[[G:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK:           %[[NEG:.*]] = arith.negf %[[G]]
// CHECK:           %[[E:.*]] = math.exp %[[NEG]]
// CHECK:           %[[DEN:.*]] = arith.addf %[[E]], %{{.*}}
// CHECK:           %[[SILU:.*]] = arith.divf %[[G]], %[[DEN]]
// CHECK:           arith.mulf %[[SILU]]
// CHECK:           arith.truncf
func.func @silu_mul(%g: tensor<?x?x32xbf16>, %u: tensor<?x?x32xbf16>) -> tensor<?x?x32xbf16> {
  %0 = llm.silu_mul %g, %u : (tensor<?x?x32xbf16>, tensor<?x?x32xbf16>) -> tensor<?x?x32xbf16>
  return %0 : tensor<?x?x32xbf16>
}
