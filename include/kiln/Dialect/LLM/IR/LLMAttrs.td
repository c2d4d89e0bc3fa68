//===- LLMAttrs.td - llm dialect attributes ----------------*- tablegen -*-===//
#ifndef KILN_DIALECT_LLM_IR_LLMATTRS_TD
#define KILN_DIALECT_LLM_IR_LLMATTRS_TD

include "kiln/Dialect/LLM/IR/LLMDialect.td"
include "mlir/IR/AttrTypeBase.td"

def LLM_LoweringConfigAttr : AttrDef<LLM_Dialect, "LoweringConfig"> {
  let mnemonic = "lowering_config";
  let summary = "Tile sizes that drive tile-and-fuse of one linalg op";
  let description = [{
    Attached to a linalg op under the attribute name `llm.lowering_config`.
    `distribute` gives one tile size per loop of the op for the outer,
    parallel level (an `scf.forall`: thread blocks on the planned GPU target;
    on the CPU it is lowered to sequential loops for now);
    reduction loops must have 0 there. `vector` gives the inner tile sizes
    (`scf.for` loops, reduction loops included) that are small and static
    enough to vectorize. A tile size of 0 leaves a loop untiled. The
    default heuristic (`kiln-assign-lowering-config`) never overwrites a
    config already present, so tests and tuning can pin tile sizes:

    ```mlir
    linalg.matmul {llm.lowering_config =
        #llm.lowering_config<distribute = [1, 64, 0], vector = [1, 8, 16]>}
    ```

    On the GPU target, `distribute` is the tile of one thread block and the
    optional `threads` gives the number of threads per loop that share it
    (an `scf.forall` mapped to `#gpu.thread`, innermost loop on x; 0 for
    loops not split, reductions included); `vector` is unused there:

    ```mlir
    #llm.lowering_config<distribute = [1, 128, 0], vector = [],
                         threads = [0, 128, 0]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$distribute,
                        ArrayRefParameter<"int64_t">:$vector,
                        OptionalArrayRefParameter<"int64_t">:$threads);
  let builders = [
    AttrBuilder<(ins "::llvm::ArrayRef<int64_t>":$distribute,
                     "::llvm::ArrayRef<int64_t>":$vector), [{
      return $_get($_ctxt, distribute, vector, ::llvm::ArrayRef<int64_t>());
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name under which the config is attached to an op.
    static constexpr ::llvm::StringLiteral getAttrName() {
      return ::llvm::StringLiteral("llm.lowering_config");
    }
  }];
}

def LLM_SwizzleAttr : AttrDef<LLM_Dialect, "Swizzle"> {
  let mnemonic = "swizzle";
  let summary = "XOR swizzle of a shared-memory tile";
  let description = [{
    The layout of a shared-memory tile, read as its row-major elements cut
    into lines of `line` elements (128 bytes: one pass over the 32 banks),
    each line cut into units of `access` elements (the widest access to the
    tile, at least 4 bytes; a unit stays contiguous). Unit `u` of line `l`
    is stored at unit

        u xor ((l floordiv phase) mod (line / access))

    of the same line. Lines that share a value of `l floordiv phase` share
    one permutation of their units; `line / access` must be a power of two.
    A warp that reads down a column (each lane its own row) then meets a
    different unit, so a different bank, in each line, while a warp that
    reads along a line still covers the banks once. Attached by
    `kiln-gpu-swizzle` to a `gpu.func` workgroup attribution under
    `llm.swizzle` (the attribution is then flat: one index, the swizzled
    offset), or pinned there by a test:

    ```mlir
    #llm.swizzle<line = 32, access = 1, phase = 2>
    ```
  }];
  let parameters = (ins "int64_t":$line, "int64_t":$access, "int64_t":$phase);
  let assemblyFormat = "`<` `line` `=` $line `,` `access` `=` $access `,` "
                       "`phase` `=` $phase `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name under which a swizzle is attached to an attribution.
    static constexpr ::llvm::StringLiteral getAttrName() {
      return ::llvm::StringLiteral("llm.swizzle");
    }
    /// Where the element at row-major offset `offset` is stored.
    int64_t apply(int64_t offset) const {
      int64_t units = getLine() / getAccess();
      int64_t line = offset / getLine();
      int64_t unit = (offset % getLine()) / getAccess();
      int64_t swizzled = unit ^ ((line / getPhase()) % units);
      return line * getLine() + swizzled * getAccess() +
             offset % getAccess();
    }
  }];
}

#endif // KILN_DIALECT_LLM_IR_LLMATTRS_TD
