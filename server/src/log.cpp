#include "tipline/server/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

namespace tipline::log {

namespace {

spdlog::logger& logger() {
  // stderr, one JSON object a line; spdlog adds nothing of its own.
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto created = std::make_shared<spdlog::logger>(
        "tipline", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    created->set_pattern("%v");
    created->set_level(spdlog::level::info);
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "error";
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// UTC, ISO 8601. Source-side lines keep only the hour: an exact time could be matched
// against network observations to find who submitted.
std::string timestamp(bool coarse) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  if (coarse) {
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:00:00Z", &utc);
  } else {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    char base[32];
    std::strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text, sizeof text, "%s.%03dZ", base, static_cast<int>(millis));
  }
  return text;
}

}  // namespace

class Line {
 public:
  Line(Level level, std::string_view channel, Literal event, bool coarse_time) {
    text_ = "{\"time\":\"" + timestamp(coarse_time) + "\",\"level\":\"";
    text_ += level_name(level);
    text_ += "\",\"channel\":\"";
    text_ += channel;
    text_ += "\",\"event\":";
    append_json_string(text_, event.view());
  }

  template <class AnyField>
  void add(const AnyField& field) {
    text_ += ',';
    append_json_string(text_, field.key_.view());
    text_ += ':';
    std::visit(
        [this](const auto& value) {
          using Value = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<Value, std::int64_t>) {
            text_ += std::to_string(value);
          } else if constexpr (std::is_same_v<Value, bool>) {
            text_ += value ? "true" : "false";
          } else if constexpr (std::is_same_v<Value, Literal>) {
            append_json_string(text_, value.view());
          } else {
            append_json_string(text_, value);
          }
        },
        field.value_);
  }

  std::string finish() && { return std::move(text_) + '}'; }

 private:
  std::string text_;
};

void set_level(Level level) { logger().set_level(to_spdlog(level)); }

void operations(Level level, Literal event, std::initializer_list<Field> fields) {
  if (!logger().should_log(to_spdlog(level))) return;
  Line line(level, "operations", event, false);
  for (const auto& field : fields) line.add(field);
  logger().log(to_spdlog(level), std::move(line).finish());
}

void source(Level level, Literal event, std::initializer_list<SourceField> fields) {
  if (!logger().should_log(to_spdlog(level))) return;
  Line line(level, "source", event, true);
  for (const auto& field : fields) line.add(field);
  logger().log(to_spdlog(level), std::move(line).finish());
}

}  // namespace tipline::log
