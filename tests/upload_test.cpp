// Placeholder: replaced by the upload tests.
#include <gtest/gtest.h>

TEST(Placeholderupload, Nothing) {}
