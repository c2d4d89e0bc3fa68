//===- Passes.td - Kiln transformation passes --------------*- tablegen -*-===//
#ifndef KILN_TRANSFORMS_PASSES_TD
#define KILN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AssignLoweringConfig : Pass<"kiln-assign-lowering-config"> {
  let summary = "Choose tile sizes for every root linalg op";
  let description = [{
    Attaches an `#llm.lowering_config` to each linalg op that roots a fusion
    group. An op is fused into its consumers instead (and gets no config)
    when it is a `linalg.fill`, when its only user is a linalg op, or when
    the llm lowering marked it `llm.fuse_into_consumers` (attention scores
    and row maxima, recomputed per tile instead of materialised) and all its
    users are linalg ops, unless a user would recompute it for every outer
    tile (it reads it through an indexing map that ignores a loop its
    `distribute` sizes split, e.g. a matmul's activations under blocks of
    output features). A config already present is kept, so IR can pin
    tile sizes. The sizes come from a target heuristic; see
    docs/passes/assign-lowering-config.md.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "Target whose heuristic picks the tile sizes (cpu, cuda)">
  ];
  let dependentDialects = ["::kiln::llm::LLMDialect"];
}

def TileAndFuse : Pass<"kiln-tile-and-fuse"> {
  let summary = "Tile root linalg ops by their lowering config and fuse producers";
  let description = [{
    For every linalg op that carries an `#llm.lowering_config` (consumers
    first), tiles it with the upstream TilingInterface driver
    (`scf::tileConsumerAndFuseProducersUsingSCF`) and fuses its producers
    into the tile loops.

    `level=distribute` tiles the parallel loops by the config's `distribute`
    sizes into one `scf.forall` and greedily fuses every producer linalg op
    that has no config of its own (recomputing multi-use producers marked
    `llm.fuse_into_consumers` per tile).

    `level=vector` tiles the ops (inside the forall) by the `vector` sizes
    into `scf.for` loops, reduction loops included, and fuses only
    elementwise producers that are not destination operands, which is legal
    under a tiled reduction, and that no consumer reads through a map
    ignoring a tiled parallel loop (they would be recomputed per tile). A
    contraction whose tiled reductions are static multiples of 16 is tiled
    on its parallel loops only and split along its reductions
    (`scf::tileReductionUsingScf`): 16-lane partial sums accumulated over
    the whole reduction, one reduction of the lanes at the end.

    GPU target: a config with `threads` makes the `distribute` forall a
    grid of thread blocks (mapped to `#gpu.block<linear_dim_*>`, innermost
    tiled loop first). `level=thread` then splits each block among threads:
    every root is tiled into an `scf.forall` of `threads` threads (numThreads
    tiling, so counts are static even for partial tiles; mapped to
    `#gpu.thread<x/y/z>`), fusing producers that have no config and that a
    thread does not recompute for other threads' tiles; every linalg op left
    in the block gets its own thread forall (up to 128 threads on its
    innermost static parallel loop, else one thread), so that no op runs
    redundantly on all threads of a block.
  }];
  let options = [
    Option<"level", "level", "std::string", /*default=*/"\"distribute\"",
           "Which tile sizes of the config to apply: distribute, vector or "
           "thread">
  ];
  let dependentDialects = [
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect"
  ];
}

def SplitInvariantCompute : Pass<"kiln-split-invariant-compute"> {
  let summary = "Compute once the part of a generic's body that a loop does not change";
  let description = [{
    For each `linalg.generic` on tensors that the vector level leaves to
    scalar loops (no non-zero `vector` tile sizes), finds, from the innermost
    parallel loop outwards, the first parallel loop `p` (not of static size
    1) such that part of the body does not depend on `p` (it reads only
    inputs indexed without `p`, `linalg.index` of other loops, values from
    above and constants) and that part contains an expensive op
    (`math` dialect, `arith.divf`, `arith.remf`) whose result the rest of the
    body uses. That part moves to a new all-parallel generic over the other
    loops, whose results (one tensor per value the rest uses) the remaining
    generic reads through the identity of its loops without `p`. When only
    reductions follow `p` and `p` indexes the innermost dimension of every
    output, `p` is moved innermost in the remaining generic (a reduction's
    summation order per output element is unchanged), so that its inner loop
    walks the output contiguously.

    In the attention output, `out[..., d] += exp(s[j] - max) / sum * v[j,
    d]`, the softmax weight is then computed once per key instead of once
    per key and output feature.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"
  ];
}

def VectorizeLinalg : Pass<"kiln-vectorize"> {
  let summary = "Vectorize statically shaped linalg ops";
  let description = [{
    Calls the upstream linalg vectorizer on every linalg op whose iteration
    space is static and at most `max-vector-elements` large (the tiles that
    `kiln-tile-and-fuse level=vector` produced), then folds the
    transfer/contract patterns. Ops that cannot be vectorized are left as
    they are and later lowered to loops; `report` emits a remark for each.
  }];
  let options = [
    Option<"maxVectorElements", "max-vector-elements", "int64_t",
           /*default=*/"4096",
           "Largest iteration space (in elements) to vectorize">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark for every linalg op left unvectorized">
  ];
  let dependentDialects = [
    "::mlir::vector::VectorDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect"
  ];
}

def Bufferize : Pass<"kiln-bufferize", "::mlir::ModuleOp"> {
  let summary = "One-Shot Bufferize the whole module with Kiln's options";
  let description = [{
    Runs upstream One-Shot Module Bufferize over the module, function
    boundaries included (identity-layout memrefs at the boundaries), so that
    a tensor argument written through `tensor.insert_slice` /
    `tensor.parallel_insert_slice` (the KV caches) is written in place and
    a function returning it returns the argument's own buffer. Copies that
    bufferization must insert are `linalg.copy` ops (legal in device code
    and lowered to loops on the CPU) instead of `memref.copy`, which needs a
    runtime library. Empty tensors are eliminated first, so that results are
    computed directly into their destination. Public functions then stop
    returning the arguments they updated in place: their callers own those
    buffers already.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::linalg::LinalgDialect"
  ];
}

def FlashAttention : Pass<"kiln-flash-attention"> {
  let summary = "Lower llm.attention to a flash-attention GPU kernel";
  let description = [{
    GPU target, before `kiln-convert-llm-to-linalg`. Every `llm.attention`
    becomes a thread-block `scf.forall` (mapped to `#gpu.block`) over batch
    x KV head x blocks of query rows x splits of the keys, whose block walks
    its keys in tiles of `key-tile` with the online softmax (running row
    maximum `m`, row sum `l` and output accumulator `acc`, rescaled by
    `exp(m - m')` at each tile), and writes the split's partial `(acc, m,
    l)`; three linalg ops after the forall combine the splits of each row
    (`out = sum_c acc_c exp(m_c - m*) / sum_c l_c exp(m_c - m*)`). Every
    buffer of a block is static and no score matrix over the whole key
    sequence exists. A block's rows are `rows-per-block / group` query
    positions times the query heads sharing its KV head (the group).

    The decode step (a static query length of 1) splits the keys into
    chunks of `keys-per-split` (flash decoding), so that a single sequence
    fills the GPU with batch x KV heads x chunks blocks; longer queries use
    one split. The ops inside the block carry a lowering config with
    `threads` only: `kiln-assign-lowering-config` keeps them and
    `kiln-tile-and-fuse{level=thread}` shares them among the threads. See
    docs/passes/flash-attention.md.
  }];
  let options = [
    Option<"keyTile", "key-tile", "int64_t", /*default=*/"32",
           "Keys per step of the online softmax (static tile, 1..128)">,
    Option<"keysPerSplit", "keys-per-split", "int64_t", /*default=*/"128",
           "Keys per block in the decode step (a multiple of key-tile)">,
    Option<"rowsPerBlock", "rows-per-block", "int64_t", /*default=*/"16",
           "Query rows (positions x heads of a group) per block in prefill "
           "(1..128)">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::gpu::GPUDialect",
    "::kiln::llm::LLMDialect"
  ];
}

def GpuWarpReduce : Pass<"kiln-gpu-warp-reduce"> {
  let summary = "Merge a warp's partial results with shuffles";
  let description = [{
    GPU, after bufferization and before `kiln-gpu-launch`. A reduction that
    `kiln-tile-and-fuse{level=thread}` split across the 32 lanes of a warp
    (decode GEMVs, RMSNorm's row sums, llm.argmax, the softmax's row maximum
    and sum in flash attention) leaves a `#gpu.thread` forall of one thread
    per row that combines the row's 32 partials (a `[.., 32]` shared
    buffer) in order, after an optional fill of the output. Such a forall
    (views of the row's partials and output, then a generic with one
    reduction loop of 32, every other loop of 1, and a body that is one
    commutative combiner of f32 or i32: addf, maximumf, minimumf, maxnumf,
    minnumf, addi, max/min si/ui) becomes a forall of W warps (W = min(rows,
    4)); warp w takes rows w, w + W, ...: lane l loads partial l, five
    `gpu.shuffle xor` steps (16, 8, 4, 2, 1) leave the total in every lane,
    and lane 0 combines it with the output's initial value (the fill's, or
    the output's own) and stores it. Several rows must each read and write
    views computed from the row index. Other foralls are left alone. See
    docs/passes/gpu-warp-reduce.md.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

def GpuKernelAttributes : Pass<"kiln-gpu-kernel-attributes", "::mlir::ModuleOp"> {
  let summary = "Set the NVVM occupancy bound of every outlined kernel";
  let description = [{
    After `gpu-kernel-outlining`: every `gpu.func` kernel gets
    `nvvm.minctasm = min-blocks-per-sm` (PTX `.minnctapersm`). With the
    block size alone (`.maxntid`, from outlining's `known_block_size`),
    ptxas caps registers to fit several blocks per SM and spills instead
    (the Llama-3-8B-shaped f32 prefill attention kernel, sm_80: 80
    registers and 52 bytes of spills; with one block per SM: 119 registers,
    no spills). See docs/passes/gpu-launch.md.
  }];
  let options = [
    Option<"minBlocksPerSM", "min-blocks-per-sm", "int64_t", /*default=*/"1",
           "Blocks per SM that ptxas must leave room for (>= 1)">
  ];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def GpuPromoteOperands : Pass<"kiln-gpu-promote-operands"> {
  let summary = "Stage a GEMM block's operand tiles in shared memory";
  let description = [{
    GPU, between `kiln-tile-and-fuse{level=distribute}` and
    `{level=thread}`. A contraction inside a thread block (a root with a
    `threads` config on parallel loops, one static reduction K that is a
    multiple of `k-tile`) is rewritten into a loop over K in steps of
    `k-tile` (upstream `scf::tileUsingSCF`) whose operand tiles are copied
    into static tiles first (linalg ops with a `threads` config: shared
    memory once bufferized, coalesced copies once on threads), accumulating
    into a static tile that is copied to the block's output after the
    loop. Dynamic tile sizes (the token count of the last block) are padded
    with zeros up to their static bound (upstream value-bounds analysis).
    See docs/passes/gpu-promote-operands.md.
  }];
  let options = [
    Option<"kTile", "k-tile", "int64_t", /*default=*/"32",
           "Reduction elements per step (staged tile width)">,
    Option<"copyBytes", "copy-bytes", "int64_t", /*default=*/"4",
           "Bytes each thread copies at a time into a tile (4, 8 or 16: one "
           "cp.async each; 4 keeps the swizzle unit at one bank word for "
           "the multiply's element-wise reads)">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect"
  ];
}

def GpuBankConflicts : Pass<"kiln-gpu-bank-conflicts", "::mlir::ModuleOp"> {
  let summary = "Count the shared-memory bank conflicts of each kernel";
  let description = [{
    An analysis: for every `gpu.func` with a `known_block_size`, evaluates
    the index arithmetic of each access to a workgroup attribution (through
    subviews) for every lane of every warp of the block, at the first and
    second iteration of the enclosing loops, and counts the wavefronts the
    access needs (the most distinct 4-byte words one of the 32 banks holds,
    per phase of lanes the hardware serves together) against the fewest
    possible. Emits a remark per access (option `accesses`) and one per
    kernel with the totals; changes nothing. Lit tests use it to show that
    `kiln-gpu-swizzle` removes the conflicts, without a GPU. See
    docs/passes/gpu-bank-conflicts.md.
  }];
  let options = [
    Option<"accesses", "accesses", "bool", /*default=*/"true",
           "A remark for every shared-memory access, not only per kernel">
  ];
}

def GpuSwizzle : Pass<"kiln-gpu-swizzle", "::mlir::ModuleOp"> {
  let summary = "XOR-swizzle shared-memory tiles so that warps access them without bank conflicts";
  let description = [{
    GPU, after outlining and `convert-linalg-to-loops`. For each static,
    row-major workgroup attribution of a `gpu.func` accessed only by loads,
    stores, vector loads and stores, cp.async destinations and ldmatrix
    (directly or through subviews, reshapes and casts), counts the bank
    conflicts of those accesses (the kiln-gpu-bank-conflicts model, weighted
    by loop trip counts) and, where there are some, picks the
    `#llm.swizzle<line, access, phase>` that leaves the fewest: the tile's
    flat elements in 128-byte lines, units of `access` elements (the widest
    access, at least a 4-byte word) xor-ed within their line by
    (line floordiv phase), phase tried from 1 up. The tile becomes flat,
    every access is rewritten to the swizzled offset, and the attribute is
    recorded on the attribution (`llm.swizzle`). A swizzle pinned there
    already is applied as given. Where no swizzle removes the conflicts,
    padding each row by one unit is tried as a fallback (`llm.padding`
    records the added elements; for tiles accessed without views). See
    docs/passes/gpu-swizzle.md.
  }];
  let options = [
    Option<"padding", "padding", "bool", /*default=*/"true",
           "Pad rows where no swizzle removes the conflicts">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::affine::AffineDialect",
    "::kiln::llm::LLMDialect"
  ];
}

def GpuPipeline : Pass<"kiln-gpu-pipeline"> {
  let summary = "Multi-buffer a GEMM's shared tiles and software-pipeline its K loop";
  let description = [{
    GPU, after bufferization, before `kiln-gpu-launch` (memrefs, thread
    foralls). For each `scf.for` inside a thread-block forall whose body
    fills shared tiles with `llm.async_copy` copies (thread foralls,
    kiln-gpu-promote-operands) and then computes on them (other thread
    foralls): the tiles' allocations are hoisted out of the loop and, with
    `stages` >= 2, given `stages` buffers (upstream
    `memref::multiBuffer`), and the loop is rewritten by upstream
    `scf::pipelineForLoop` with Kiln's schedule: the copies of iteration
    i + stages - 1 (stage 0) are issued before the compute of iteration i
    (stage stages - 1), with a prologue that issues the first stages - 1
    copies and a peeled epilogue. With `async` (the GPU; the CPU
    simulation turns it off), each iteration's copies end with
    `nvvm.cp.async.commit.group`, and the compute starts with
    `nvvm.cp.async.wait.group stages - 1` (0 in the epilogue) and a
    `gpu.barrier`; `kiln-gpu-async-copy` later makes the copies cp.async.
    `stages` = 1 keeps the loop (no prologue, one buffer). See
    docs/passes/gpu-pipeline.md.
  }];
  let options = [
    Option<"stages", "stages", "int64_t", /*default=*/"2",
           "Pipeline stages: buffers per tile and copies in flight (1 = off)">,
    Option<"async", "async", "bool", /*default=*/"true",
           "Emit cp.async commit/wait groups and the barrier before the compute">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::gpu::GPUDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::affine::AffineDialect"
  ];
}

def GpuAsyncCopy : Pass<"kiln-gpu-async-copy"> {
  let summary = "Turn each thread's shared-tile copies into cp.async";
  let description = [{
    GPU, after `kiln-gpu-launch` (the tiles are workgroup memory) and before
    `convert-linalg-to-loops`. Each `llm.async_copy` linalg.generic (a
    thread's [rows, 1, vector] part of a copy into a shared tile) becomes one
    `nvgpu.device_async_copy` per 16-byte (or 8- or 4-byte) vector: the
    source address is its body's load at the vector's first element, and
    where the body selects zero past a dynamic size, the copy's
    `srcElements` is 0 there (cp.async fills the vector with zeros). A copy
    whose body does not have that form is left to the loops. See
    docs/passes/gpu-pipeline.md.
  }];
  let dependentDialects = [
    "::mlir::nvgpu::NVGPUDialect", "::mlir::arith::ArithDialect"
  ];
}

def GpuMma : Pass<"kiln-gpu-mma"> {
  let summary = "Run the prefill GEMM blocks' bf16/f16 multiply on tensor cores (mma.sync)";
  let description = [{
    GPU, after `kiln-gpu-launch`. A thread-split contraction of a block's
    shared tiles ([1, 32 tokens, K] x [N, K] into a [1, 32, N] f32
    accumulator, bf16 or f16 operands, K a multiple of 16, N of 16; a
    block whose x size is a multiple of 32 and y size at least 4) is
    replaced by warp-level tensor-core code: warp w (thread y) computes 16
    tokens x N / 2 features with `nvgpu.ldmatrix` (x4 for A, x2 for each
    8-feature slice of B) and `nvvm.mma.sync` m16n8k16 with f32
    accumulation; its accumulator fragments are loaded from shared memory
    before the first K step, carried in registers through the (pipelined)
    K loop and stored after the last. A block whose steps are placed
    otherwise, or whose accumulator something else touches between them,
    keeps its scalar FMAs, as do f32 GEMMs (tensor cores would round them
    to tf32). See docs/passes/gpu-mma.md.
  }];
  let dependentDialects = [
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::vector::VectorDialect",
    "::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def GpuLaunch : Pass<"kiln-gpu-launch"> {
  let summary = "Turn thread-block foralls into gpu.launch and map their threads";
  let description = [{
    Runs after bufferization on the output of `kiln-tile-and-fuse`'s GPU
    levels. Every `scf.forall` mapped to `#gpu.block<linear_dim_*>` becomes
    a `gpu.launch` whose grid is the forall's trip count (the product over
    its dimensions, computed on the host, on grid x: dynamic token counts
    need no bound) and whose block is as large as the largest thread forall
    inside it (x, y, z). Block ids are delinearized into the forall's
    induction variables. The `#gpu.thread` foralls are then mapped with the
    upstream `mapNestedForallToThreadsImpl` (threads beyond a forall's count
    are predicated off; a barrier follows each forall, which orders e.g.
    a row sum before the columns that read it). Buffers the kernel
    allocates must be static: outside thread foralls they become workgroup
    attributions of the launch (shared memory), inside them allocas
    (private to the thread).

    Two clean-ups come first: `linalg.copy` of a buffer onto itself (left
    by bufferization where a tile was computed in place) is erased, and a
    top-level `scf.forall` without a mapping becomes a grid of one-thread
    blocks, so that nothing that touches device memory stays on the host.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::affine::AffineDialect", "::mlir::memref::MemRefDialect"
  ];
}

def EmitCpuEntryABI : Pass<"kiln-emit-cpu-entry-abi", "::mlir::ModuleOp"> {
  let summary = "Give the lowered CPU module the runtime's calling convention";
  let description = [{
    Runs on the LLVM dialect, last in the CPU pipeline. For every entry
    point (an `llvm.func` carrying `llm.entry`) it adds an exported
    `kiln_entry_<name>(ptr %args)` wrapper with one packed argument: `args`
    is an array of pointers, one per lowered parameter of the entry (each
    memref is allocated pointer, aligned pointer, offset, sizes, strides),
    plus a last one to which the returned memref descriptor is stored. A
    runtime can therefore call an entry with hundreds of weight arguments
    without generating code.

    Heap allocations of the compiled code (`malloc`/`free` calls) are routed
    through two exported hook variables, `kiln_alloc_hook` and
    `kiln_free_hook`, so that the runtime serves them from its workspace
    (no allocation in the decode step); a null hook falls back to
    `malloc`/`free` (mlir-runner tests). Private functions get internal
    linkage.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // KILN_TRANSFORMS_PASSES_TD
