// The one way the server writes logs: JSON lines on stderr, through spdlog.
//
// The privacy policy is enforced by types. An event caused by a source's connection goes
// through source(), whose fields accept only numbers, booleans and compile-time string
// literals, so nothing a source sends (address, headers, path, body, tokens) can reach a
// log line, and whose timestamp is truncated to the hour. Operational events (startup,
// shutdown, configuration) go through operations() with exact times and may carry
// administrator-supplied text such as file paths.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace tipline::log {

enum class Level { debug, info, warn, error };

// Lines below this level are dropped. Default: info.
void set_level(Level level);

// Text fixed at compile time: a string literal in the server's own code.
class Literal {
 public:
  consteval Literal(const char* text) : text_(text) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] std::string_view view() const { return text_; }

 private:
  const char* text_;
};

// A field of a source-side event.
class SourceField {
 public:
  template <class Integer>
  requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>)
      SourceField(Literal key, Integer value)
      : key_(key), value_(static_cast<std::int64_t>(value)) {}
  // A template so that a string literal never converts to bool.
  template <class Bool>
  requires std::is_same_v<Bool, bool> SourceField(Literal key, Bool value)
      : key_(key), value_(value) {}
  SourceField(Literal key, Literal value) : key_(key), value_(value) {}

 private:
  friend class Line;
  Literal key_;
  std::variant<std::int64_t, bool, Literal> value_;
};

// A field of an operational event; may also carry runtime text.
class Field {
 public:
  template <class Integer>
  requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>)
      Field(Literal key, Integer value)
      : key_(key), value_(static_cast<std::int64_t>(value)) {}
  template <class Bool>
  requires std::is_same_v<Bool, bool> Field(Literal key, Bool value) : key_(key), value_(value) {}
  Field(Literal key, Literal value) : key_(key), value_(value) {}
  Field(Literal key, std::string value) : key_(key), value_(std::move(value)) {}
  // A string literal as the value of an operational field (chosen over std::string).
  template <std::size_t N>
  Field(Literal key, const char (&value)[N]) : key_(key), value_(std::string(value)) {}

 private:
  friend class Line;
  Literal key_;
  std::variant<std::int64_t, bool, Literal, std::string> value_;
};

void operations(Level level, Literal event, std::initializer_list<Field> fields = {});
void source(Level level, Literal event, std::initializer_list<SourceField> fields = {});

}  // namespace tipline::log
