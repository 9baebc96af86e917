#pragma once
// Tabular output for ragctl: aligned columns for a person at a terminal, tab-separated
// columns (same header) when stdout is a pipe or file, so that `cut` and `awk` work.

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ragd::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // Cells beyond the header's width are dropped; missing cells print empty.
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // `aligned`: pad columns with spaces; otherwise separate them with tabs.
  void Print(std::ostream& out, bool aligned) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// `text` on one line (newlines and tabs become spaces), cut to `max_chars` bytes at a UTF-8
// boundary with "..." appended when cut.
std::string OneLine(absl::string_view text, size_t max_chars);

}  // namespace ragd::cli
