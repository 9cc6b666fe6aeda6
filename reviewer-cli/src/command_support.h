// What the case commands share: reporting failures, opening the case folder and its
// client, and formatting sizes, times and short ids.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "case_folder.h"
#include "client.h"
#include "exit_codes.h"

namespace tipline::review {

// Prints "tipline-review: MESSAGE" on standard error and returns the failure's code.
int report_failure(const Failure& failure);
// Prints "tipline-review: warning: MESSAGE" on standard error.
void warn(std::string_view message);

// Errors: kNoCase.
[[nodiscard]] tl::expected<CaseFolder, Failure> open_case(const std::filesystem::path& case_dir);
[[nodiscard]] tl::expected<Index, Failure> load_index(const CaseFolder& folder);
[[nodiscard]] tl::expected<void, Failure> save_index(const CaseFolder& folder, const Index& index);
// A client signing with the case's key and trusting its CA file. Errors: kNoCase.
[[nodiscard]] tl::expected<Client, Failure> connect(const CaseFolder& folder);

// "512 B", "12.3 KiB", "4.0 MiB", ...
[[nodiscard]] std::string size_text(std::uint64_t bytes);
// Unix seconds as "YYYY-MM-DD HH:MM UTC".
[[nodiscard]] std::string time_text(std::int64_t unix_seconds);
// The first kShortIdLength digits of a submission id.
[[nodiscard]] std::string short_id(std::string_view id);

}  // namespace tipline::review
