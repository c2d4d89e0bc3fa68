//===- EmitCpuEntryABI.cpp - the runtime's calling convention -------------===//
//
// The runtime calls a compiled entry through `kiln_entry_<name>(void **args)`
// (see Passes.td) and serves its heap allocations through two hook
// variables. Both are plain data for the runtime: it needs no generated code
// and no knowledge of MLIR's lowering beyond the memref descriptor layout.
//
//===----------------------------------------------------------------------===//
#include "kiln/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace kiln {
#define GEN_PASS_DEF_EMITCPUENTRYABI
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr llvm::StringLiteral kEntryAttr = "llm.entry";
constexpr llvm::StringLiteral kAllocHook = "kiln_alloc_hook";
constexpr llvm::StringLiteral kFreeHook = "kiln_free_hook";

/// A zero-initialised, exported pointer variable.
void createHookVariable(OpBuilder &b, Location loc, StringRef name) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  auto global = LLVM::GlobalOp::create(b, loc, ptrType, /*isConstant=*/false,
                                       LLVM::Linkage::External, name,
                                       /*value=*/Attribute(), /*alignment=*/8);
  OpBuilder::InsertionGuard guard(b);
  Block *init = b.createBlock(&global.getInitializerRegion());
  b.setInsertionPointToStart(init);
  LLVM::ReturnOp::create(b, loc,
                         ValueRange{LLVM::ZeroOp::create(b, loc, ptrType)});
}

/// `internal fn(args) { h = load @hook; h ? h(args) : fallback(args) }`.
LLVM::LLVMFuncOp createHookedFunction(OpBuilder &b, Location loc,
                                      StringRef name, StringRef hook,
                                      LLVM::LLVMFuncOp fallback) {
  LLVM::LLVMFunctionType type = fallback.getFunctionType();
  auto fn =
      LLVM::LLVMFuncOp::create(b, loc, name, type, LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard guard(b);
  Block *entry = fn.addEntryBlock(b);
  Block *viaHook = b.createBlock(&fn.getBody());
  Block *viaFallback = b.createBlock(&fn.getBody());
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  bool returnsValue = !isa<LLVM::LLVMVoidType>(type.getReturnType());

  b.setInsertionPointToStart(entry);
  Value hookAddr = LLVM::AddressOfOp::create(b, loc, ptrType, hook);
  Value hookFn = LLVM::LoadOp::create(b, loc, ptrType, hookAddr);
  Value null = LLVM::ZeroOp::create(b, loc, ptrType);
  Value isSet =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, hookFn, null);
  LLVM::CondBrOp::create(b, loc, isSet, viaHook, viaFallback);

  auto emitReturn = [&](LLVM::CallOp call) {
    if (returnsValue)
      LLVM::ReturnOp::create(b, loc, call.getResults());
    else
      LLVM::ReturnOp::create(b, loc, ValueRange());
  };
  b.setInsertionPointToStart(viaHook);
  SmallVector<Value> operands = {hookFn};
  llvm::append_range(operands, entry->getArguments());
  emitReturn(LLVM::CallOp::create(b, loc, type, operands));
  b.setInsertionPointToStart(viaFallback);
  emitReturn(LLVM::CallOp::create(b, loc, fallback, entry->getArguments()));
  return fn;
}

/// `kiln_entry_<name>(ptr %args)`: loads every parameter of `entry` through
/// args[i], calls it and stores its result through args[numParams].
LogicalResult createPackedWrapper(OpBuilder &b, LLVM::LLVMFuncOp entry) {
  Location loc = entry.getLoc();
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  LLVM::LLVMFunctionType entryType = entry.getFunctionType();
  if (entryType.isVarArg())
    return entry.emitOpError("a variadic entry point cannot be wrapped");
  if (isa<LLVM::LLVMStructType>(entryType.getReturnType()) &&
      cast<LLVM::LLVMStructType>(entryType.getReturnType()).isOpaque())
    return entry.emitOpError("an entry point cannot return an opaque struct");

  auto wrapperType =
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrType});
  auto wrapper =
      LLVM::LLVMFuncOp::create(b, loc, ("kiln_entry_" + entry.getName()).str(),
                               wrapperType, LLVM::Linkage::External);
  OpBuilder::InsertionGuard guard(b);
  Block *body = wrapper.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  Value args = body->getArgument(0);
  auto slotAddress = [&](int64_t index) -> Value {
    Value slot = LLVM::GEPOp::create(b, loc, ptrType, ptrType, args,
                                     ArrayRef<LLVM::GEPArg>{index});
    return LLVM::LoadOp::create(b, loc, ptrType, slot);
  };
  SmallVector<Value> params;
  for (auto [i, type] : llvm::enumerate(entryType.getParams()))
    params.push_back(LLVM::LoadOp::create(b, loc, type, slotAddress(i)));
  auto call = LLVM::CallOp::create(b, loc, entry, params);
  if (!isa<LLVM::LLVMVoidType>(entryType.getReturnType()))
    LLVM::StoreOp::create(b, loc, call.getResult(),
                          slotAddress(entryType.getNumParams()));
  LLVM::ReturnOp::create(b, loc, ValueRange());
  return success();
}

struct EmitCpuEntryABIPass final
    : kiln::impl::EmitCpuEntryABIBase<EmitCpuEntryABIPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = module.getLoc();

    SmallVector<LLVM::LLVMFuncOp> entries;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>()) {
      if (fn.isExternal())
        continue;
      if (fn->hasAttr(kEntryAttr)) {
        entries.push_back(fn);
        continue;
      }
      // Only the wrappers and hooks are the artifact's interface.
      auto visibility = fn->getAttrOfType<StringAttr>("sym_visibility");
      if (visibility && visibility.getValue() == "private") {
        fn.setLinkage(LLVM::Linkage::Internal);
        fn->removeAttr("sym_visibility");
      }
    }
    for (LLVM::LLVMFuncOp entry : entries)
      if (failed(createPackedWrapper(b, entry)))
        return signalPassFailure();

    // Route the heap through the hooks.
    auto mallocFn = module.lookupSymbol<LLVM::LLVMFuncOp>("malloc");
    auto freeFn = module.lookupSymbol<LLVM::LLVMFuncOp>("free");
    createHookVariable(b, loc, kAllocHook);
    createHookVariable(b, loc, kFreeHook);
    auto redirect = [&](LLVM::LLVMFuncOp fallback, StringRef name,
                        StringRef hook) {
      if (!fallback)
        return;
      LLVM::LLVMFuncOp hooked =
          createHookedFunction(b, loc, name, hook, fallback);
      module.walk([&](LLVM::CallOp call) {
        if (call.getCallee() == fallback.getName() &&
            call->getParentOp() != hooked)
          call.setCallee(hooked.getName());
      });
    };
    redirect(mallocFn, "kiln_malloc", kAllocHook);
    redirect(freeFn, "kiln_free", kFreeHook);
  }
};
} // namespace
