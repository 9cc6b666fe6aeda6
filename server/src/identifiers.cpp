#include "identifiers.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace tipline::server {

std::int64_t seconds_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(now).count();
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> random(bytes);
  randombytes_buf(random.data(), random.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), random.data(), random.size());
  hex.pop_back();
  return hex;
}

bool is_lower_hex(std::string_view text, std::size_t digits) {
  return text.size() == digits && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::int64_t today() {
  constexpr std::int64_t kSecondsPerDay = 86400;
  return seconds_now() / kSecondsPerDay;
}

std::int64_t current_hour() { return seconds_now() / kSecondsPerHour; }

}  // namespace tipline::server
