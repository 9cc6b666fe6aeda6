// Choosing submissions from the index: the filters of `list`, `search` and `export`, and
// the ID prefixes reviewers type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "case_folder.h"

namespace tipline::review {

// Every member that is set must match; days are inclusive bounds, YYYY-MM-DD.
struct Filter {
  std::optional<std::string> status;
  std::optional<std::string> label;
  std::optional<std::string> assignee;
  std::optional<std::string> since;
  std::optional<std::string> until;
};

// The shortest prefix reviewers may type, and the length `list` shows.
inline constexpr std::size_t kMinIdPrefix = 4;
inline constexpr std::size_t kShortIdLength = 8;

[[nodiscard]] bool matches(const Submission& submission, const Filter& filter);
// The matching submissions, oldest first (by received day, then id).
[[nodiscard]] std::vector<const Submission*> select(const Index& index, const Filter& filter);

// The one submission whose id starts with `prefix` (at least kMinIdPrefix hex digits, either
// case). Errors are messages: too short or not hex, no match, or several (some listed).
[[nodiscard]] tl::expected<const Submission*, std::string> resolve_id(const Index& index,
                                                                      std::string_view prefix);

}  // namespace tipline::review
