#include "tipline/server/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace tipline::log {
namespace {

std::string captured(const std::function<void()>& write) {
  ::testing::internal::CaptureStderr();
  write();
  return ::testing::internal::GetCapturedStderr();
}

TEST(Log, SourceLinesKeepOnlyTheHour) {
  const std::string line = captured([] {
    source(Level::info, "request_refused", {{"status", 431}, {"listener", "source"}});
  });
  EXPECT_TRUE(std::regex_search(
      line, std::regex(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:00:00Z","level":"info",)"
                       R"("channel":"source","event":"request_refused",)"
                       R"("status":431,"listener":"source"\}\n$)")))
      << line;
}

TEST(Log, OperationalLinesHaveExactTimesAndText) {
  const std::string line = captured([] {
    operations(
        Level::warn, "listening",
        {{"address", std::string("quote\" back\\ nl\n ctl\x01")}, {"port", 8443u}, {"tls", true}});
  });
  EXPECT_TRUE(std::regex_search(
      line,
      std::regex(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warn",)"
                 R"("channel":"operations","event":"listening",)"
                 R"("address":"quote\\" back\\\\ nl\\n ctl\\u0001","port":8443,"tls":true\}\n$)")))
      << line;
}

TEST(Log, LevelFiltersLines) {
  set_level(Level::warn);
  const std::string dropped = captured([] { operations(Level::info, "started"); });
  const std::string kept = captured([] { operations(Level::error, "stopped"); });
  set_level(Level::info);
  EXPECT_EQ(dropped, "");
  EXPECT_NE(kept.find("\"event\":\"stopped\""), std::string::npos);
}

// The privacy policy holds at compile time: source fields take no runtime text.
template <class Value>
concept SourceFieldAccepts = requires(Value value) {
  SourceField("key", value);
};
static_assert(!SourceFieldAccepts<std::string>);
static_assert(!SourceFieldAccepts<std::string_view>);
static_assert(SourceFieldAccepts<int>);

}  // namespace
}  // namespace tipline::log
