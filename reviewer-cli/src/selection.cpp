#include "selection.h"

#include <algorithm>

namespace tipline::review {

bool matches(const Submission& submission, const Filter& filter) {
  if (filter.status && submission.status != *filter.status) return false;
  if (filter.assignee && submission.assignee != *filter.assignee) return false;
  if (filter.label && std::find(submission.labels.begin(), submission.labels.end(),
                                *filter.label) == submission.labels.end()) {
    return false;
  }
  // Days written YYYY-MM-DD order as text does.
  if (filter.since && submission.received_day < *filter.since) return false;
  if (filter.until && submission.received_day > *filter.until) return false;
  return true;
}

std::vector<const Submission*> select(const Index& index, const Filter& filter) {
  std::vector<const Submission*> selected;
  for (const auto& [id, submission] : index.submissions) {
    if (matches(submission, filter)) selected.push_back(&submission);
  }
  std::stable_sort(selected.begin(), selected.end(),
                   [](const auto* a, const auto* b) { return a->received_day < b->received_day; });
  return selected;
}

tl::expected<const Submission*, std::string> resolve_id(const Index& index,
                                                        std::string_view prefix) {
  std::string lower;
  for (const char c : prefix) {
    const char folded = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((folded >= '0' && folded <= '9') || (folded >= 'a' && folded <= 'f'))) {
      return tl::unexpected("\"" + std::string(prefix) + "\" is not a submission ID (hex digits)");
    }
    lower += folded;
  }
  if (lower.size() < kMinIdPrefix || lower.size() > 32) {
    return tl::unexpected("a submission ID needs " + std::to_string(kMinIdPrefix) +
                          " to 32 hex digits, not " + std::to_string(lower.size()));
  }
  // The map is ordered by id, so the ids with this prefix are consecutive from lower_bound.
  std::vector<const Submission*> found;
  for (auto it = index.submissions.lower_bound(lower);
       it != index.submissions.end() && it->first.starts_with(lower); ++it) {
    found.push_back(&it->second);
  }
  if (found.empty()) {
    return tl::unexpected("no submission in the case folder starts with " + lower +
                          " (run `tipline-review sync`?)");
  }
  if (found.size() > 1) {
    std::string listed;
    for (std::size_t i = 0; i < found.size() && i < 5; ++i) {
      listed += (i == 0 ? "" : ", ") + found[i]->id.substr(0, lower.size() + 4);
    }
    if (found.size() > 5) listed += ", ...";
    return tl::unexpected(lower + " is ambiguous: " + std::to_string(found.size()) +
                          " submissions start with it (" + listed + "); type more digits");
  }
  return found.front();
}

}  // namespace tipline::review
