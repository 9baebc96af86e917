// Markdown: YAML-ish front matter → metadata, ATX headings (# .. ######) → sections. The text
// is kept as written (minus the front matter): Markdown markup is readable to both people and
// embedding models, and keeping it makes byte offsets point into what the author wrote.

#include <charconv>
#include <cstdint>

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest::internal {
namespace {

struct Line {
  std::string_view text;  // without the line break
  size_t begin = 0;       // offset of the line in the input
  size_t next = 0;        // offset of the following line
};

// Splits at '\n' (a preceding '\r' is dropped from `text`).
std::vector<Line> SplitLines(std::string_view s) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    size_t end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view t = s.substr(pos, end - pos);
    if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
    size_t next = nl == std::string_view::npos ? s.size() : nl + 1;
    lines.push_back(Line{t, pos, next});
    pos = next;
  }
  return lines;
}

std::string Unquote(std::string_view v) {
  v = TrimAscii(v);
  if (v.size() >= 2 &&
      ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\''))) {
    v = v.substr(1, v.size() - 2);
  }
  return std::string(v);
}

// A scalar of simple YAML: bool, integer, float or string. Anything fancier stays a string,
// which is never wrong, only less typed.
index::MetadataValue ParseScalar(std::string_view raw) {
  std::string_view v = TrimAscii(raw);
  if (v.empty() || v.front() == '"' || v.front() == '\'') return Unquote(v);
  if (v == "true" || v == "True") return true;
  if (v == "false" || v == "False") return false;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ec == std::errc() && p == v.data() + v.size()) return i;
  if (v.find('.') != std::string_view::npos) {
    double d = 0;
    auto [pd, ecd] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ecd == std::errc() && pd == v.data() + v.size()) return d;
  }
  return std::string(v);
}

std::vector<std::string> ParseFlowList(std::string_view v) {
  std::vector<std::string> items;
  v = v.substr(1, v.size() - 2);  // drop [ ]
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t comma = v.find(',', pos);
    if (comma == std::string_view::npos) comma = v.size();
    std::string item = Unquote(v.substr(pos, comma - pos));
    if (!item.empty()) items.push_back(std::move(item));
    pos = comma + 1;
  }
  return items;
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// Parses "key: value" lines; "key:" followed by "  - item" lines makes a list. Comments,
// nested maps and anything unrecognised are skipped.
index::Metadata ParseFrontMatter(const std::vector<Line>& lines) {
  index::Metadata meta;
  std::string list_key;
  for (const Line& line : lines) {
    std::string_view t = line.text;
    std::string_view trimmed = TrimAscii(t);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (!list_key.empty() && (t.front() == ' ' || t.front() == '-') &&
        trimmed.substr(0, 1) == "-") {
      std::string item = Unquote(trimmed.substr(1));
      auto& v = meta[list_key];
      if (!std::holds_alternative<std::vector<std::string>>(v)) v = std::vector<std::string>{};
      std::get<std::vector<std::string>>(v).push_back(std::move(item));
      continue;
    }
    list_key.clear();
    size_t colon = t.find(':');
    if (colon == 0 || colon == std::string_view::npos || !IsKeyChar(t.front())) continue;
    std::string_view key = t.substr(0, colon);
    bool ok = true;
    for (char c : key) ok = ok && IsKeyChar(c);
    if (!ok) continue;
    std::string_view value = TrimAscii(t.substr(colon + 1));
    if (value.empty()) {
      list_key = std::string(key);
      continue;
    }
    if (value.front() == '[' && value.back() == ']') {
      meta[std::string(key)] = ParseFlowList(value);
    } else {
      meta[std::string(key)] = ParseScalar(value);
    }
  }
  return meta;
}

// "## Title ##" → level 2, "Title". 0 when the line is not an ATX heading.
int AtxHeading(std::string_view line, std::string* heading) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  size_t hashes = 0;
  while (i + hashes < line.size() && line[i + hashes] == '#') ++hashes;
  if (hashes == 0 || hashes > 6) return 0;
  size_t after = i + hashes;
  if (after < line.size() && line[after] != ' ' && line[after] != '\t') return 0;
  std::string_view h = TrimAscii(line.substr(after));
  // An optional closing sequence of '#' preceded by a space is not part of the heading.
  size_t k = h.size();
  while (k > 0 && h[k - 1] == '#') --k;
  if (k == 0) {
    h = {};
  } else if (k < h.size() && (h[k - 1] == ' ' || h[k - 1] == '\t')) {
    h = TrimAscii(h.substr(0, k));
  }
  *heading = std::string(h);
  return static_cast<int>(hashes);
}

// "```" or "~~~" (3+) opens or closes a fenced code block; headings inside are code.
bool IsFence(std::string_view line, char* fence_char, size_t* fence_len) {
  std::string_view t = line;
  size_t i = 0;
  while (i < t.size() && i < 3 && t[i] == ' ') ++i;
  if (i >= t.size() || (t[i] != '`' && t[i] != '~')) return false;
  size_t n = 0;
  while (i + n < t.size() && t[i + n] == t[i]) ++n;
  if (n < 3) return false;
  *fence_char = t[i];
  *fence_len = n;
  return true;
}

class MarkdownLoader final : public DocumentLoader {
 public:
  Format format() const override { return Format::kMarkdown; }
  std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                             const SourceInfo& source) const override {
    std::vector<absl::StatusOr<Document>> out;
    if (absl::Status s = CheckUtf8(content, source.name); !s.ok()) {
      out.push_back(s);
      return out;
    }
    if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);
    Document doc = NewDocument(source, Format::kMarkdown);

    std::string_view body = content;
    std::vector<Line> lines = SplitLines(content);
    if (!lines.empty() && TrimAscii(lines[0].text) == "---") {
      for (size_t i = 1; i < lines.size(); ++i) {
        std::string_view t = TrimAscii(lines[i].text);
        if (t == "---" || t == "...") {
          std::vector<Line> fm(lines.begin() + 1, lines.begin() + static_cast<long>(i));
          for (auto& [k, v] : ParseFrontMatter(fm)) doc.metadata[k] = std::move(v);
          body = content.substr(lines[i].next);
          break;
        }
      }
    }
    if (auto it = doc.metadata.find("title"); it != doc.metadata.end()) {
      if (auto* s = std::get_if<std::string>(&it->second)) doc.title = *s;
      doc.metadata.erase(it);  // stored as the chunk's "title" field instead
    }

    // Leading blank lines after the front matter carry nothing.
    while (!body.empty() && (body.front() == '\n' || body.front() == '\r')) body.remove_prefix(1);
    doc.text = std::string(body);

    SectionBuilder sections;
    std::string first_h1;
    char fence_char = 0;
    size_t fence_len = 0;
    for (const Line& line : SplitLines(doc.text)) {
      char c;
      size_t n;
      if (IsFence(line.text, &c, &n)) {
        if (fence_char == 0) {
          fence_char = c;
          fence_len = n;
        } else if (c == fence_char && n >= fence_len) {
          fence_char = 0;
        }
        continue;
      }
      if (fence_char != 0) continue;
      std::string heading;
      int level = AtxHeading(line.text, &heading);
      if (level == 0) continue;
      if (level == 1 && first_h1.empty()) first_h1 = heading;
      sections.OnHeading(level, std::move(heading), line.begin);
    }
    doc.sections = sections.Finish(doc.text.size());
    if (doc.title.empty()) doc.title = first_h1;
    out.push_back(FinishDocument(std::move(doc), source));
    return out;
  }
};

}  // namespace

std::unique_ptr<DocumentLoader> NewMarkdownLoader() { return std::make_unique<MarkdownLoader>(); }

}  // namespace ragd::ingest::internal
