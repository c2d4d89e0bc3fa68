// RUN: kiln-opt %s --kiln-vectorize --canonicalize | FileCheck %s

// A static GEMV tile (one token, 8 outputs, 64-deep reduction) becomes one
// vector.contract on f32 vectors widened from bf16.
// CHECK-LABEL: func.func @gemv_tile
// CHECK:         %[[X:.*]] = vector.transfer_read {{.*}} : tensor<1x1x64xbf16>, vector<1x1x64xbf16>
// CHECK:         %[[W:.*]] = vector.transfer_read {{.*}} : tensor<8x64xbf16>, vector<8x64xbf16>
// CHECK:         %[[XF:.*]] = arith.extf %[[X]] : vector<1x1x64xbf16> to vector<1x1x64xf32>
// CHECK:         %[[WF:.*]] = arith.extf %[[W]] : vector<8x64xbf16> to vector<8x64xf32>
// CHECK:         vector.contract {{.*}} %[[XF]], %[[WF]], %{{.*}} : vector<1x1x64xf32>, vector<8x64xf32> into vector<1x1x8xf32>
// CHECK-NOT:     linalg.
func.func @gemv_tile(%x: tensor<1x1x64xbf16>, %w: tensor<8x64xbf16>, %acc: tensor<1x1x8xf32>) -> tensor<1x1x8xf32> {
  %0 = linalg.contract indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>, affine_map<(b, s, n, k) -> (n, k)>, affine_map<(b, s, n, k) -> (b, s, n)>]
      ins(%x, %w : tensor<1x1x64xbf16>, tensor<8x64xbf16>) outs(%acc : tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
  return %0 : tensor<1x1x8xf32>
}

// The RMSNorm sum of squares: a reduction to a vector.contract as well.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK:         %[[V:.*]] = vector.transfer_read {{.*}} vector<1x1x64xf32>
// CHECK:         vector.contract {{.*}} %[[V]], %[[V]], %{{.*}} : vector<1x1x64xf32>, vector<1x1x64xf32> into vector<1x1xf32>
func.func @sum_of_squares(%x: tensor<1x1x64xf32>, %acc: tensor<1x1xf32>) -> tensor<1x1xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(a, b, c) -> (a, b, c)>, affine_map<(a, b, c) -> (a, b)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<1x1x64xf32>) outs(%acc : tensor<1x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    %a = arith.addf %out, %m : f32
    linalg.yield %a : f32
  } -> tensor<1x1xf32>
  return %0 : tensor<1x1xf32>
}

// Dynamic shapes are left to the loop lowering.
// CHECK-LABEL: func.func @dynamic
// CHECK:         linalg.add
// CHECK-NOT:     vector.
func.func @dynamic(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = linalg.add ins(%a, %a : tensor<?x8xf32>, tensor<?x8xf32>) outs(%b : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// The partial sums of a split contraction: the multiply-add on vectors
// becomes one vector.fma.
// CHECK-LABEL: func.func @partial_sums
// CHECK:         %[[X:.*]] = vector.broadcast %{{.*}} : vector<1x16xf32> to vector<1x4x16xf32>
// CHECK:         %[[W:.*]] = vector.broadcast %{{.*}} : vector<4x16xf32> to vector<1x4x16xf32>
// CHECK:         %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<1x4x16xf32>, vector<1x4x16xf32>
// CHECK:         %[[FMA:.*]] = vector.fma %[[X]], %[[W]], %[[ACC]] : vector<1x4x16xf32>
// CHECK:         vector.transfer_write %[[FMA]]
// CHECK-NOT:     arith.mulf
func.func @partial_sums(%x: tensor<1x16xf32>, %w: tensor<4x16xf32>, %acc: tensor<1x4x16xf32>) -> tensor<1x4x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n, k)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %w : tensor<1x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<1x4x16xf32>) {
  ^bb0(%in: f32, %in_w: f32, %out: f32):
    %m = arith.mulf %in, %in_w : f32
    %a = arith.addf %out, %m : f32
    linalg.yield %a : f32
  } -> tensor<1x4x16xf32>
  return %0 : tensor<1x4x16xf32>
}
