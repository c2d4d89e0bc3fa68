// RUN: kiln-opt %s --kiln-cuda-tile --kiln-cuda-to-ptx | FileCheck %s --check-prefix=SM90
// RUN: kiln-opt %s --kiln-cuda-tile '--kiln-cuda-to-ptx=chip=sm_80 features=+ptx75' | FileCheck %s --check-prefix=SM80
// RUN: %if ptxas %{ kiln-opt %s --kiln-cuda-tile --kiln-cuda-to-ptx | %python %kiln_python/ptx_report.py - --ptxas %ptxas --no-spills | FileCheck %s --check-prefix=PTXAS %}
// RUN: %if ptxas %{ kiln-opt %s --kiln-cuda-tile '--kiln-cuda-to-ptx=chip=sm_80 features=+ptx75' | %python %kiln_python/ptx_report.py - --ptxas %ptxas --no-spills | FileCheck %s --check-prefix=PTXAS %}

// GPU stages 2-4 on RMSNorm and a decode projection: the host function
// allocates the output and launches the outlined kernel over a grid it
// computes from the token count; each kernel is PTX for the chosen
// architecture (LLVM's NVPTX backend, no toolkit needed), which ptxas
// accepts without spills when the toolkit is there.

// SM90-LABEL: func.func @rms_norm
// SM90:         %[[T:.*]] = memref.dim
// SM90:         gpu.launch_func @rms_norm_kernel::@rms_norm_kernel blocks in (%[[T]], %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}})
// SM90:       gpu.binary @rms_norm_kernel
// SM90-SAME:    #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// SM90-SAME:    .target sm_90
// SM90-SAME:    .visible .entry rms_norm_kernel(
// SM90-SAME:    .shared .align 16 .f32
// SM90-SAME:    bar.sync
// SM90-SAME:    rsqrt.approx.f32
// SM90:       gpu.binary @decode_matmul_kernel
// SM90-SAME:    .visible .entry decode_matmul_kernel(
// SM90-SAME:    mul.rn.f32

// SM80: gpu.binary @rms_norm_kernel
// SM80-SAME: .version 7.5
// SM80-SAME: .target sm_80
// SM80: gpu.binary @decode_matmul_kernel

// PTXAS: rms_norm_kernel
// PTXAS: decode_matmul_kernel
// PTXAS: 2 kernels, all accepted by ptxas

#id = affine_map<(t, h) -> (t, h)>
#row = affine_map<(t, h) -> (t)>
#col = affine_map<(t, h) -> (h)>
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
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
    %me = arith.addf %m, %eps : f32
    %r = math.rsqrt %me : f32
    %v = arith.mulf %a, %r : f32
    %v2 = arith.mulf %v, %g : f32
    linalg.yield %v2 : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

func.func @decode_matmul(%x: tensor<1x64xf32>, %w: tensor<96x64xf32>) -> tensor<1x96xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x96xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<1x96xf32>) -> tensor<1x96xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<1x64xf32>, tensor<96x64xf32>) outs(%acc : tensor<1x96xf32>) -> tensor<1x96xf32>
  return %y : tensor<1x96xf32>
}
