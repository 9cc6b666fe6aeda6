// Placeholder: replaced by the nojs tests.
#include <gtest/gtest.h>

TEST(Placeholdernojs, Nothing) {}
