// RUN: kiln-opt %s --kiln-cuda-tile --kiln-bufferize --canonicalize --cse --kiln-gpu-launch --canonicalize --cse | FileCheck %s

// RMSNorm over a dynamic number of tokens: the grid is the token count,
// computed on the host; 64 threads per block. The row sum is split over
// 32 threads, thread l summing the squares of columns l and l + 32 into
// its slot of a shared partial buffer; after a barrier thread 0 adds the
// partials into the shared sum;
// after another barrier the 64 columns read it. Threads beyond a forall's
// count are predicated off.
// CHECK-LABEL: func.func @rms_norm
// CHECK:         %[[T:.*]] = memref.dim %arg0, %c0
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[T]], %{{.*}} = %c1, %{{.*}} = %c1) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK-SAME:      workgroup(%[[PARTIAL:.*]] : memref<1x32xf32, #gpu.address_space<workgroup>>, %[[SUM:.*]] : memref<1xf32, #gpu.address_space<workgroup>>)
// CHECK:           %[[ROW:.*]] = arith.remui %[[BX]], %[[T]]
// CHECK:           %[[TX:.*]] = gpu.thread_id x
// CHECK:           %[[LANE:.*]] = arith.cmpi ult, %[[TX]], %c32
// CHECK:           scf.if %[[LANE]] {
// CHECK:             memref.subview %{{.*}}[0, 0, %[[TX]]] [1, 2, 1]
// CHECK:             memref.subview %[[PARTIAL]][0, %[[TX]]]
// CHECK:             linalg.fill
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// CHECK:           gpu.barrier
// CHECK:           %[[FIRST:.*]] = arith.cmpi ult, %[[TX]], %c1
// CHECK:           scf.if %[[FIRST]] {
// CHECK:             linalg.fill {{.*}} outs(%[[SUM]]
// CHECK:             linalg.generic {{.*}} ins(%[[PARTIAL]] : {{.*}}) outs(%[[SUM]] : {{.*}})
// CHECK:           gpu.barrier
// CHECK:           linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]], %{{.*}} : memref<1x1xf32, {{.*}}>, memref<1xf32, #gpu.address_space<workgroup>>, memref<1xf32, {{.*}}>)
// CHECK:           gpu.barrier
// CHECK-NEXT:      gpu.terminator
// CHECK-NOT:     scf.forall
#id = affine_map<(t, h) -> (t, h)>
#row = affine_map<(t, h) -> (t)>
#col = affine_map<(t, h) -> (h)>
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x64xf32>) outs(%acc : tensor<?xf32>) {
  ^bb0(%a: f32, %s: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %s, %sq : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %o = tensor.empty(%t) : tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %w : tensor<?x64xf32>, tensor<?xf32>, tensor<64xf32>) outs(%o : tensor<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %out: f32):
    %m = arith.divf %s, %n : f32
    %r = math.rsqrt %m : f32
    %v = arith.mulf %a, %r : f32
    %v2 = arith.mulf %v, %g : f32
    linalg.yield %v2 : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Two block dimensions (tokens, blocks of 32 features) linearized over
// grid x: the innermost (features) is the fastest-varying part of the
// block id.
// CHECK-LABEL: func.func @two_block_dims
// CHECK:         %[[T:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[GRID:.*]] = arith.muli %[[T]], %c3
// (The block's operand tiles are staged in shared memory by
// kiln-gpu-promote-operands, whose copy of the weight tile uses 32 x 4
// threads.)
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c4, %{{.*}} = %c1)
// CHECK:           %[[F:.*]] = arith.remui %[[BX]], %c3
// CHECK:           %[[REST:.*]] = arith.divui %[[BX]], %c3
// CHECK:           %[[COL:.*]] = affine.apply #{{.*}}()[%[[F]]]
// CHECK:           %[[ROW:.*]] = arith.remui %[[REST]], %[[T]]
// CHECK:           memref.subview %arg1[%[[COL]], 0] [32, 64]
func.func @two_block_dims(%x: tensor<?x64xf32>, %w: tensor<96x64xf32>) -> tensor<?x96xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x96xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x96xf32>) -> tensor<?x96xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<?x96xf32>)
      {llm.lowering_config = #llm.lowering_config<distribute = [1, 32, 0], vector = [], threads = [0, 32, 0]>} -> tensor<?x96xf32>
  return %y : tensor<?x96xf32>
}
