#include "cli/cli_output.h"

#include <algorithm>
#include <ostream>

namespace ragd::cli {

void Table::Print(std::ostream& out, bool aligned) const {
  const size_t columns = header_.size();
  auto cell = [](const std::vector<std::string>& row, size_t i) -> const std::string& {
    static const std::string kEmpty;
    return i < row.size() ? row[i] : kEmpty;
  };
  std::vector<size_t> width(columns, 0);
  if (aligned) {
    for (size_t i = 0; i < columns; ++i) {
      width[i] = header_[i].size();
      for (const auto& row : rows_) width[i] = std::max(width[i], cell(row, i).size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < columns; ++i) {
      const std::string& c = cell(row, i);
      out << c;
      if (i + 1 == columns) break;
      if (aligned) {
        out << std::string(width[i] - c.size() + 2, ' ');
      } else {
        out << '\t';
      }
    }
    out << '\n';
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

std::string OneLine(absl::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars + 3));
  for (char c : text) {
    out.push_back(c == '\n' || c == '\t' || c == '\r' ? ' ' : c);
  }
  if (out.size() <= max_chars) return out;
  size_t cut = max_chars;
  // Back up over UTF-8 continuation bytes so a character is never split.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

}  // namespace ragd::cli
