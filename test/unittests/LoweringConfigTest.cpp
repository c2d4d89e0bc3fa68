//===- LoweringConfigTest.cpp - tests of the CPU tile-size heuristic ------===//
#include "kiln/Transforms/LoweringConfig.h"
#include "kiln/Pipelines/Pipelines.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {

linalg::LinalgOp firstLinalgOp(ModuleOp module) {
  linalg::LinalgOp found;
  module->walk([&](linalg::LinalgOp op) {
    if (!found && !isa<linalg::FillOp>(op.getOperation()))
      found = op;
  });
  return found;
}

class LoweringConfigTest : public ::testing::Test {
protected:
  LoweringConfigTest() {
    DialectRegistry registry;
    registerKilnDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }
  OwningOpRef<ModuleOp> parse(StringRef text) {
    return parseSourceString<ModuleOp>(text, &ctx);
  }
  MLIRContext ctx;
};

TEST_F(LoweringConfigTest, MatmulTilesTokensAndOutputFeatures) {
  auto module = parse(R"mlir(
    func.func @f(%x: tensor<?x96xf32>, %w: tensor<300x96xf32>,
                 %acc: tensor<?x300xf32>) -> tensor<?x300xf32> {
      %0 = linalg.matmul indexing_maps = [
          affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
          affine_map<(m, n, k) -> (m, n)>]
          ins(%x, %w : tensor<?x96xf32>, tensor<300x96xf32>)
          outs(%acc : tensor<?x300xf32>) -> tensor<?x300xf32>
      return %0 : tensor<?x300xf32>
    })mlir");
  ASSERT_TRUE(module);
  llm::LoweringConfigAttr config =
      chooseCpuLoweringConfig(firstLinalgOp(*module));
  // Tokens in blocks of 8, 300 output features in blocks of 60 (the largest
  // divisor <= 64), the reduction untouched at the outer level.
  EXPECT_EQ(config.getDistribute(), ArrayRef<int64_t>({8, 60, 0}));
  // One token, 6 features (divisor of 60 <= 8), 48-deep reduction steps.
  EXPECT_EQ(config.getVector(), ArrayRef<int64_t>({1, 6, 48}));
}

TEST_F(LoweringConfigTest, ConfigWithWrongLoopCountIsRejected) {
  auto module = parse(R"mlir(
    func.func @f(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %0 = linalg.add ins(%a, %a : tensor<4x8xf32>, tensor<4x8xf32>)
                      outs(%b : tensor<4x8xf32>) -> tensor<4x8xf32>
      return %0 : tensor<4x8xf32>
    })mlir");
  ASSERT_TRUE(module);
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diag = d.str();
    return success();
  });
  auto config = llm::LoweringConfigAttr::get(&ctx, {1, 2, 3}, {});
  EXPECT_TRUE(failed(verifyLoweringConfig(firstLinalgOp(*module), config)));
  EXPECT_NE(diag.find("has 3 tile sizes but the op has 2 loops"),
            std::string::npos)
      << diag;
}

} // namespace
