#include "table.h"

#include <algorithm>
#include <numeric>

#include "terminal_text.h"

namespace tipline::review {

std::string render_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows, std::size_t width) {
  constexpr std::size_t kGap = 2;
  std::vector<std::size_t> widths;
  widths.reserve(columns.size());
  for (const Column& column : columns) widths.push_back(display_width(column.heading));
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < columns.size() && i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  if (width > 0) {
    std::size_t total = std::accumulate(widths.begin(), widths.end(), std::size_t{0}) +
                        kGap * (columns.empty() ? 0 : columns.size() - 1);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].shrink_order > 0) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&columns](std::size_t a, std::size_t b) {
      return columns[a].shrink_order < columns[b].shrink_order;
    });
    for (const std::size_t i : order) {
      if (total <= width) break;
      const std::size_t floor = std::min(widths[i], columns[i].min_width);
      const std::size_t cut = std::min(total - width, widths[i] - floor);
      widths[i] -= cut;
      total -= cut;
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string cell = truncate_to_width(i < cells.size() ? cells[i] : "", widths[i]);
      const std::string padding(widths[i] - display_width(cell), ' ');
      if (i > 0) text += std::string(kGap, ' ');
      text += columns[i].right_aligned ? padding + cell : cell + padding;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::vector<std::string> headings;
  headings.reserve(columns.size());
  for (const Column& column : columns) headings.push_back(column.heading);
  std::string table = line(headings);
  for (const auto& row : rows) table += line(row);
  return table;
}

}  // namespace tipline::review
