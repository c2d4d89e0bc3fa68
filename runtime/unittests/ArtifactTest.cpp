#include "kiln/runtime/ArtifactFormat.h"
#include <gtest/gtest.h>
TEST(ArtifactFormat, Fnv1aKnownValue) {
  // FNV-1a 64 of "a" (published test vector).
  EXPECT_EQ(kiln::artifact::fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
}
