// Random identifiers and the coarse clock of the source side.
//
// Identifiers (submission and upload ids, draft and CSRF tokens) are random lower-case hex,
// so they say nothing about order or time of arrival. Times kept about a source are day or
// hour numbers, never exact (docs/threat-model.md).
// Thread safety: all functions may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tipline::server {

// `bytes` random bytes as 2 * bytes lower-case hex digits.
[[nodiscard]] std::string random_hex(std::size_t bytes);

// Whether `text` is exactly `digits` lower-case hex digits.
[[nodiscard]] bool is_lower_hex(std::string_view text, std::size_t digits);

// Seconds since 1970-01-01 UTC: exact, so only for reviewer actions, never a source's.
[[nodiscard]] std::int64_t seconds_now();
// Days and hours since 1970-01-01 UTC.
[[nodiscard]] std::int64_t today();
[[nodiscard]] std::int64_t current_hour();
inline constexpr std::int64_t kSecondsPerHour = 3600;

}  // namespace tipline::server
