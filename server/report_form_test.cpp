// Placeholder: replaced by the report form tests.
#include <gtest/gtest.h>

TEST(PlaceholderReportForm, Nothing) {}
