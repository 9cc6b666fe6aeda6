// Plain-text tables that fit the terminal: columns separated by two spaces, no colours.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tipline::review {

struct Column {
  std::string heading;
  bool right_aligned = false;
  // Columns that may be cut (with "…") to fit, the lowest first; 0: never cut.
  int shrink_order = 0;
  std::size_t min_width = 4;  // a cut column keeps at least this many columns
};

// The table as lines ending in "\n". Cells must already be terminal_safe. With width > 0
// the shrinkable columns give up columns, in shrink_order, until each line fits (or each is
// at its minimum width); width 0 means no limit.
[[nodiscard]] std::string render_table(const std::vector<Column>& columns,
                                       const std::vector<std::vector<std::string>>& rows,
                                       std::size_t width);

}  // namespace tipline::review
