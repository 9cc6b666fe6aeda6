// Text that reaches the terminal. Decrypted reports are written by strangers, so nothing
// from them may reach the terminal as a control sequence: every control character, C1
// control, bidirectional override and invalid UTF-8 byte is replaced by a visible stand-in.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tipline::review {

// `text` safe to print: C0 controls become their Control Pictures (ESC shows as U+241B),
// DEL as U+2421, C1 controls, bidi embeddings/overrides/isolates and invalid UTF-8 as
// U+FFFD. Line feeds are kept only when keep_newlines; tabs become a space.
[[nodiscard]] std::string terminal_safe(std::string_view text, bool keep_newlines = false);

// The columns `text` (valid UTF-8, already terminal_safe) takes: combining marks 0, East
// Asian wide characters and emoji 2, everything else 1.
[[nodiscard]] std::size_t display_width(std::string_view text);
// `text` cut to at most `width` columns, ending in "…" when cut; never splits a character.
[[nodiscard]] std::string truncate_to_width(std::string_view text, std::size_t width);

// Text folded for case-insensitive matching: ASCII, Latin-1, Greek and Cyrillic capitals
// become small letters; everything else is kept (invalid UTF-8 too).
[[nodiscard]] std::string fold_case(std::string_view text);

// A readable label for an identifier: "incident_type" -> "Incident type".
[[nodiscard]] std::string humanize(std::string_view identifier);

// The width tables are drawn to: $COLUMNS when set to a number, else the terminal's width
// when standard output is one, else 0 (no limit).
[[nodiscard]] std::size_t output_width();

}  // namespace tipline::review
