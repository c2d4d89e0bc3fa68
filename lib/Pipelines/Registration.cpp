//===- Registration.cpp - register Kiln's dialects, passes, pipelines -----===//
#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "kiln/Pipelines/Pipelines.h"
#include "kiln/Transforms/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

using namespace mlir;

void kiln::registerKilnDialects(DialectRegistry &registry) {
  registry.insert<llm::LLMDialect>();
  // The upstream dialects the pipelines go through, with their external
  // interface models (bufferization, tiling, LLVM translation).
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR (NVVM, GPU).
  registerAllToLLVMIRTranslations(registry);
}

void kiln::registerKilnPassesAndPipelines() {
  registerAllPasses();
  registerKilnConversionPasses();
  registerKilnTransformsPasses();

  PassPipelineRegistration<>("kiln-cpu-lower-to-linalg",
                             "CPU stage 1: llm ops to linalg on tensors",
                             buildCpuLowerToLinalgPipeline);
  PassPipelineRegistration<>(
      "kiln-cpu-tile",
      "CPU stage 2: lowering configs, tile-and-fuse, vectorization",
      buildCpuTilePipeline);
  PassPipelineRegistration<>(
      "kiln-cpu-bufferize",
      "CPU stage 3: One-Shot Bufferize, out-params, deallocation",
      buildCpuBufferizePipeline);
  PassPipelineRegistration<>("kiln-cpu-to-llvm",
                             "CPU stage 4: loops and vectors to the LLVM "
                             "dialect",
                             buildCpuToLLVMPipeline);
  PassPipelineRegistration<>(
      "kiln-cpu-pipeline",
      "The whole CPU pipeline: llm on tensors to the LLVM dialect",
      buildCpuPipeline);
  PassPipelineRegistration<>(
      "kiln-cuda-lower-to-linalg",
      "GPU stage 1: attention to its flash kernel, llm ops to linalg",
      buildCudaLowerToLinalgPipeline);
  PassPipelineRegistration<>(
      "kiln-cuda-tile",
      "GPU stage 2: GPU lowering configs, thread blocks and threads",
      buildCudaTilePipeline);
  PassPipelineRegistration<>(
      "kiln-gpu-tiling-on-cpu-bufferize",
      "Test aid: after kiln-cuda-tile, bufferize the GPU tiling to run it "
      "as CPU loops (2 pipeline stages, synchronous copies; then "
      "kiln-cpu-to-llvm)",
      [](OpPassManager &pm) {
        buildGpuTilingOnCpuBufferizePipeline(pm, /*pipelineStages=*/2);
      });
  PassPipelineRegistration<CudaTargetOptions>(
      "kiln-cuda-to-ptx",
      "GPU stages 3-4: bufferize, gpu.launch, outline, NVVM, PTX",
      buildCudaToPtxPipeline);
}
