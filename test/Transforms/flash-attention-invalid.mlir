// RUN: not kiln-opt %s --kiln-flash-attention="key-tile=0" 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not kiln-opt %s --kiln-flash-attention="key-tile=256" 2>&1 | FileCheck %s --check-prefix=TILE256
// RUN: not kiln-opt %s --kiln-flash-attention="key-tile=64 keys-per-split=96" 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: not kiln-opt %s --kiln-flash-attention="rows-per-block=0" 2>&1 | FileCheck %s --check-prefix=ROWS

// TILE: error: kiln-flash-attention: option 'key-tile' must be in [1, 128], got 0
// TILE256: error: kiln-flash-attention: option 'key-tile' must be in [1, 128], got 256
// SPLIT: error: kiln-flash-attention: 'keys-per-split' (96) must be a positive multiple of 'key-tile' (64)
// ROWS: error: kiln-flash-attention: option 'rows-per-block' must be in [1, 128], got 0
func.func @decode(%q: tensor<?x1x4x16xf32>, %k: tensor<?x?x2x16xf32>, %v: tensor<?x?x2x16xf32>, %p: tensor<?x1xi32>) -> tensor<?x1x4x16xf32> {
  %0 = llm.attention %q, %k, %v, %p {scale = 0.25 : f32} : (tensor<?x1x4x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x1xi32>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}
