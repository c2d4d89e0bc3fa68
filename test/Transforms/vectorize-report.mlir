// RUN: kiln-opt %s --kiln-vectorize=report=true -verify-diagnostics

// With report=true, every op left unvectorized says why.
func.func @dynamic(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-remark @+1 {{not vectorized (linalg.add, 2 loops): dynamic iteration space}}
  %0 = linalg.add ins(%a, %a : tensor<?x8xf32>, tensor<?x8xf32>) outs(%b : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
