// RUN: kiln-opt %s --split-input-file --kiln-gpu-swizzle -verify-diagnostics -o /dev/null

gpu.module @kernels {
  // expected-error @below {{kiln-gpu-swizzle: #llm.swizzle<line = 64, access = 1, phase = 1> does not fit workgroup buffer 0 of @wrong_row, of type 'memref<30x30xf32, #gpu.address_space<workgroup>>'}}
  gpu.func @wrong_row() workgroup(%tile : memref<30x30xf32, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 64, access = 1, phase = 1>}) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %tx = gpu.thread_id x
    %v = memref.load %tile[%tx, %c0] : memref<30x30xf32, #gpu.address_space<workgroup>>
    gpu.return
  }
}

// -----

// A 4-element vector would straddle two 2-element units.
gpu.module @kernels {
  // expected-error @below {{kiln-gpu-swizzle: #llm.swizzle<line = 32, access = 2, phase = 1> does not fit workgroup buffer 0 of @straddles}}
  gpu.func @straddles(%out: memref<4xf32>) workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 32, access = 2, phase = 1>}) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    %c0 = arith.constant 0 : index
    %tx = gpu.thread_id x
    %v = vector.load %tile[%tx, %c0] : memref<32x32xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    vector.store %v, %out[%c0] : memref<4xf32>, vector<4xf32>
    gpu.return
  }
}

// -----

// A tile used by anything but loads and stores keeps its layout.
gpu.module @kernels {
  // expected-error @below {{kiln-gpu-swizzle: workgroup buffer 0 of @copied cannot be swizzled (it needs a static row-major shape, accessed only by loads and stores)}}
  gpu.func @copied(%out: memref<32x32xf32>) workgroup(%tile : memref<32x32xf32, #gpu.address_space<workgroup>> {llm.swizzle = #llm.swizzle<line = 32, access = 1, phase = 1>}) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
    memref.copy %tile, %out : memref<32x32xf32, #gpu.address_space<workgroup>> to memref<32x32xf32>
    gpu.return
  }
}

// -----

// expected-error @below {{swizzle: line / access must be a power of two (got line = 48, access = 1)}}
#bad = #llm.swizzle<line = 48, access = 1, phase = 1>
