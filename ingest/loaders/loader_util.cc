#include "ingest/loaders/loader_util.h"

#include <cstdint>
#include <filesystem>

#include "common/utf8.h"

namespace ragd::ingest::internal {
namespace {

// Byte offset of the first ill-formed sequence; only called once IsValidUtf8 said "invalid",
// to make the error message point at the culprit.
size_t FirstInvalidUtf8Byte(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || i + n > s.size() || !IsValidUtf8(s.substr(i, n))) return i;
    i += n;
  }
  return s.size();
}

}  // namespace

absl::Status CheckUtf8(std::string_view content, std::string_view what) {
  if (IsValidUtf8(content)) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + ": invalid UTF-8 at byte " +
                                    std::to_string(FirstInvalidUtf8Byte(content)));
}

Document NewDocument(const SourceInfo& source, Format format) {
  Document doc;
  doc.id = source.id;
  if (!source.name.empty()) doc.metadata["source"] = source.name;
  doc.metadata["format"] = std::string(FormatName(format));
  return doc;
}

absl::StatusOr<Document> FinishDocument(Document doc, const SourceInfo& source) {
  const std::string& where = source.name.empty() ? doc.id : source.name;
  if (doc.id.empty()) return absl::InvalidArgumentError(where + ": empty document id");
  if (doc.id.size() > kMaxDocumentIdBytes) {
    return absl::InvalidArgumentError(where + ": document id longer than " +
                                      std::to_string(kMaxDocumentIdBytes) + " bytes");
  }
  if (!IsValidUtf8(doc.id)) return absl::InvalidArgumentError(where + ": id is not UTF-8");
  if (doc.title.empty() && !source.name.empty()) {
    doc.title = std::filesystem::path(source.name).stem().string();
    if (!IsValidUtf8(doc.title)) doc.title.clear();
  }
  doc.content_hash = ContentHash(doc);
  return doc;
}

void SectionBuilder::OnHeading(int level, std::string heading, size_t offset) {
  if (!sections_.empty()) {
    sections_.back().end = offset;
  } else if (offset > 0) {
    sections_.push_back(Section{0, offset, {}});
  }
  while (!stack_.empty() && stack_.back().level >= level) stack_.pop_back();
  stack_.push_back(Open{level, std::move(heading)});
  Section s;
  s.begin = offset;
  s.end = offset;
  for (const Open& o : stack_) s.heading_path.push_back(o.heading);
  sections_.push_back(std::move(s));
}

std::vector<Section> SectionBuilder::Finish(size_t text_size) {
  if (!sections_.empty()) sections_.back().end = text_size;
  std::vector<Section> out;
  for (Section& s : sections_) {
    if (s.end > s.begin) out.push_back(std::move(s));
  }
  sections_.clear();
  stack_.clear();
  return out;
}

std::string_view TrimAscii(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

}  // namespace ragd::ingest::internal
