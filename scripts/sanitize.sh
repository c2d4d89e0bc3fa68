#!/usr/bin/env bash
# Builds Kiln with AddressSanitizer + UBSan in build-asan/ and runs the lit
# suite and the unit tests with it. Not part of CI (it doubles the build).
#
# allow_user_poisoning=0: LLVM's BumpPtrAllocator, inlined from the headers
# into our instrumented code, poisons the unused part of each slab; the
# uninstrumented libMLIR.so then allocates from that slab without
# unpoisoning, which ASan would report as use-after-poison. Real heap errors
# (overflows, use-after-free) are still reported.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_BUILD_DIR="$ROOT/build-asan"
export KILN_CMAKE_ARGS="-DKILN_ENABLE_SANITIZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo"
"$ROOT/scripts/build.sh"
export ASAN_OPTIONS="detect_leaks=0:allow_user_poisoning=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
/usr/lib/llvm-22/bin/lit -sv "$KILN_BUILD_DIR/test"
"$KILN_BUILD_DIR/bin/KilnUnitTests"
"$KILN_BUILD_DIR/bin/KilnRuntimeTests"
