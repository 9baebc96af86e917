// JSONL: one document per line, {"id": "...", "text": "...", "title"?: "...", "metadata"?: {}}.
// A bad line is that line's error; the other lines still load.

#include <nlohmann/json.hpp>

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest::internal {
namespace {

using Json = nlohmann::json;

absl::StatusOr<index::MetadataValue> ToMetadataValue(const Json& v, const std::string& where) {
  switch (v.type()) {
    case Json::value_t::string:
      return v.get<std::string>();
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::number_integer:
      return v.get<int64_t>();
    case Json::value_t::number_unsigned:
      if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError(where + ": integer out of int64 range");
      }
      return static_cast<int64_t>(v.get<uint64_t>());
    case Json::value_t::number_float:
      return v.get<double>();
    case Json::value_t::array: {
      std::vector<std::string> list;
      for (const Json& e : v) {
        if (!e.is_string()) {
          return absl::InvalidArgumentError(where + ": lists may hold strings only");
        }
        list.push_back(e.get<std::string>());
      }
      return list;
    }
    default:
      return absl::InvalidArgumentError(
          where + ": value must be a string, number, boolean or list of strings");
  }
}

absl::StatusOr<Document> ParseLine(std::string_view line, const std::string& where,
                                   const SourceInfo& source) {
  if (absl::Status s = CheckUtf8(line, where); !s.ok()) return s;
  Json j;
  try {
    j = Json::parse(line);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(where + ": malformed JSON: " + e.what());
  }
  if (!j.is_object()) return absl::InvalidArgumentError(where + ": expected a JSON object");
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return absl::InvalidArgumentError(where + ": \"id\" must be a non-empty string");
  }
  auto text = j.find("text");
  if (text == j.end() || !text->is_string()) {
    return absl::InvalidArgumentError(where + ": \"text\" must be a string");
  }
  SourceInfo line_source{id->get<std::string>(), source.name};
  Document doc = NewDocument(line_source, Format::kJsonl);
  doc.text = text->get<std::string>();
  if (auto title = j.find("title"); title != j.end() && !title->is_null()) {
    if (!title->is_string()) {
      return absl::InvalidArgumentError(where + ": \"title\" must be a string");
    }
    doc.title = title->get<std::string>();
  }
  if (auto meta = j.find("metadata"); meta != j.end() && !meta->is_null()) {
    if (!meta->is_object()) {
      return absl::InvalidArgumentError(where + ": \"metadata\" must be an object");
    }
    for (auto it = meta->begin(); it != meta->end(); ++it) {
      auto v = ToMetadataValue(it.value(), where + ": metadata \"" + it.key() + "\"");
      if (!v.ok()) return v.status();
      doc.metadata[it.key()] = *std::move(v);
    }
  }
  // The file loader's title default (the file's stem) would be wrong for every line.
  SourceInfo finish_source{doc.id, ""};
  absl::StatusOr<Document> done = FinishDocument(std::move(doc), finish_source);
  if (!done.ok()) {
    return absl::InvalidArgumentError(where + ": " + std::string(done.status().message()));
  }
  return done;
}

class JsonlLoader final : public DocumentLoader {
 public:
  Format format() const override { return Format::kJsonl; }
  std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                             const SourceInfo& source) const override {
    std::vector<absl::StatusOr<Document>> out;
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < content.size()) {
      size_t nl = content.find('\n', pos);
      if (nl == std::string_view::npos) nl = content.size();
      std::string_view line = content.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (TrimAscii(line).empty()) continue;
      std::string where = source.name + ":" + std::to_string(line_no);
      out.push_back(ParseLine(line, where, source));
    }
    if (out.empty()) {
      out.push_back(absl::InvalidArgumentError(source.name + ": no documents in JSONL file"));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<DocumentLoader> NewJsonlLoader() { return std::make_unique<JsonlLoader>(); }

}  // namespace ragd::ingest::internal
