#include "services/api/retrieval_convert.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/api/convert.h"

namespace ragd::services {
namespace {

const int64_t* IntField(const index::Metadata& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return nullptr;
  return std::get_if<int64_t>(&it->second);
}

const std::string* StringField(const index::Metadata& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return nullptr;
  return std::get_if<std::string>(&it->second);
}

const std::vector<std::string>* ListField(const index::Metadata& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return nullptr;
  return std::get_if<std::vector<std::string>>(&it->second);
}

}  // namespace

void ToProto(index::ScoredPoint&& hit, v1::RetrievedChunk* out) {
  index::Point& p = hit.point;
  const index::Metadata& m = p.metadata;
  v1::Citation* c = out->mutable_citation();
  c->set_document_id(p.document_id);
  std::vector<std::string> promoted;
  if (const std::string* title = StringField(m, "title")) {
    c->set_title(*title);
    promoted.push_back("title");
  }
  if (const auto* headings = ListField(m, "heading_path")) {
    c->mutable_heading_path()->Add(headings->begin(), headings->end());
    promoted.push_back("heading_path");
  } else if (const std::string* heading = StringField(m, "heading_path")) {
    if (!heading->empty()) c->add_heading_path(*heading);
    promoted.push_back("heading_path");
  }
  struct IntKey {
    const char* key;
    void (v1::Citation::*set)(int64_t);
  };
  for (const IntKey& k : {IntKey{"page", &v1::Citation::set_page},
                          IntKey{"byte_begin", &v1::Citation::set_byte_begin},
                          IntKey{"byte_end", &v1::Citation::set_byte_end},
                          IntKey{"ordinal", &v1::Citation::set_ordinal},
                          IntKey{"token_count", &v1::Citation::set_token_count}}) {
    if (const int64_t* v = IntField(m, k.key)) {
      (c->*k.set)(*v);
      promoted.push_back(k.key);
    }
  }
  auto* metadata = out->mutable_metadata();
  for (const auto& [key, value] : m) {
    if (std::find(promoted.begin(), promoted.end(), key) != promoted.end()) continue;
    ToProto(value, &(*metadata)[key]);
  }
  out->set_id(std::move(p.id));
  out->set_text(std::move(p.text));
  out->set_score(hit.score);
  if (hit.vector_leg) ToProto(*hit.vector_leg, out->mutable_vector_leg());
  if (hit.text_leg) ToProto(*hit.text_leg, out->mutable_text_leg());
}

void ToProto(const rag::ShardCoverage& coverage, v1::ShardCoverage* out) {
  out->set_shards_total(coverage.shards_total);
  out->set_shards_answered(coverage.shards_answered);
  out->mutable_missing_shards()->Assign(coverage.missing_shards.begin(),
                                        coverage.missing_shards.end());
}

absl::StatusOr<std::vector<models::ChatMessage>> FromProto(
    const google::protobuf::RepeatedPtrField<v1::ChatTurn>& history) {
  std::vector<models::ChatMessage> out;
  out.reserve(history.size());
  for (int i = 0; i < history.size(); ++i) {
    std::string role = absl::AsciiStrToLower(history[i].role());
    models::ChatMessage message;
    if (role == "user") {
      message.role = models::ChatRole::kUser;
    } else if (role == "assistant") {
      message.role = models::ChatRole::kAssistant;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("history[", i, "].role: expected \"user\" or \"assistant\", got \"",
                       history[i].role(), "\""));
    }
    message.content = history[i].content();
    out.push_back(std::move(message));
  }
  return out;
}

std::string EncodingName(models::Encoding encoding) {
  switch (encoding) {
    case models::Encoding::kCl100kBase:
      return "cl100k_base";
    case models::Encoding::kO200kBase:
      return "o200k_base";
  }
  return "cl100k_base";
}

void ToProto(const models::ModelDeployment& d, v1::ModelInfo* out) {
  out->set_name(d.name);
  out->set_provider(std::string(models::ChatProviderName(d.provider)));
  switch (d.provider) {
    case models::ChatProvider::kLocal:
      break;
    case models::ChatProvider::kAzureOpenAi:
      out->set_endpoint(d.endpoint);
      out->set_deployment(d.deployment);
      out->set_model(d.model);
      break;
    case models::ChatProvider::kOpenAi:
      out->set_endpoint(d.base_url);
      out->set_model(d.model);
      break;
  }
  out->set_family(d.family);
  out->set_context_window(d.context_window);
  out->set_max_output_tokens(d.max_output_tokens);
  out->set_price_per_1k_input(d.price_per_1k_input);
  out->set_price_per_1k_output(d.price_per_1k_output);
  out->set_tokenizer(EncodingName(d.encoding));
  out->set_catalog_warning(d.catalog_warning);
}

void ToProto(const models::ChatUsage& usage, v1::Usage* out) {
  out->set_prompt_tokens(usage.prompt_tokens);
  out->set_completion_tokens(usage.completion_tokens);
  out->set_total_tokens(usage.total_tokens);
  out->set_counted_locally(usage.counted_locally);
}

}  // namespace ragd::services
