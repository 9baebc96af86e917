// services/http's request parsing and response shapes in process (openai_wire_internal.h): every
// malformed body is an INVALID_ARGUMENT naming the field, never an exception or a crash, whatever
// its nesting, types or bytes; error JSON and citations have OpenAI's and Azure's shapes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "services/http/http_server.h"
#include "services/http/openai_wire_internal.h"

namespace ragd::services::http_internal {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ChatCompletionRequest> ParseChat(const std::string& text) {
  absl::StatusOr<ChatCompletionRequest> out = absl::InternalError("not run");
  absl::Status s = WithJsonGuard([&]() -> absl::Status {
    absl::StatusOr<Json> body = ParseJsonObject(text);
    if (!body.ok()) {
      out = body.status();
      return absl::OkStatus();
    }
    out = ParseChatCompletionRequest(*body);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

void ExpectInvalid(const std::string& body, const std::string& needle) {
  absl::StatusOr<ChatCompletionRequest> r = ParseChat(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle)) << body;
}

TEST(HttpWireTest, AValidChatRequestParses) {
  absl::StatusOr<ChatCompletionRequest> r = ParseChat(R"({
    "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
    "temperature": 0.5, "top_p": 1, "max_completion_tokens": 100, "stop": "END", "n": 1,
    "user": "u1", "tools": null, "logprobs": false,
    "messages": [{"role": "developer", "content": "be brief"},
                 {"role": "assistant", "content": null},
                 {"role": "user", "content": [{"type": "text", "text": "a"},
                                              {"type": "text", "text": "b"}]}],
    "data_sources": [{"type": "ragd", "parameters": {
      "collection": "kb", "top_n_documents": 3, "search_mode": "vector", "min_score": 0.2,
      "filter": {"and": [{"key": "lang", "equals": "ko"}, {"key": "year", "range": {"gte": 2020}},
                         {"not": {"document_id": "d1"}},
                         {"key": "tag", "in": ["a", "b", 3, 2.5, true]}]}}}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_TRUE(r->stream && r->include_usage);
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[0].role, models::ChatRole::kSystem);
  EXPECT_EQ(r->messages[1].content, "");
  EXPECT_EQ(r->messages[2].content, "ab");
  EXPECT_EQ(r->max_tokens, 100u);
  EXPECT_EQ(r->stop, std::vector<std::string>{"END"});
  ASSERT_TRUE(r->data_source.has_value());
  EXPECT_EQ(r->data_source->collection, "kb");
  EXPECT_EQ(r->data_source->top_k, 3u);
  EXPECT_EQ(r->data_source->search_mode, index::SearchMode::kVector);
  ASSERT_TRUE(r->data_source->filter.has_value());
  EXPECT_EQ(r->data_source->filter->kind, index::Filter::Kind::kAnd);
  EXPECT_EQ(r->data_source->filter->children.size(), 4u);
  EXPECT_TRUE(r->data_source->filter->Validate().ok());
}

TEST(HttpWireTest, MalformedBodiesNameTheirField) {
  ExpectInvalid("", "not valid JSON");
  ExpectInvalid("{\"model\":", "not valid JSON");
  ExpectInvalid("null", "JSON object");
  ExpectInvalid("\"text\"", "JSON object");
  ExpectInvalid("{\"model\":\"\xff\"}", "not valid JSON");  // invalid UTF-8
  const std::string m = R"("messages":[{"role":"user","content":"hi"}])";
  ExpectInvalid("{" + m + "}", "model");
  ExpectInvalid(R"({"model":["x"],)" + m + "}", "model");
  ExpectInvalid(R"({"model":"x"})", "messages");
  ExpectInvalid(R"({"model":"x","messages":{}})", "messages");
  ExpectInvalid(R"({"model":"x","messages":[7]})", "messages[0]");
  ExpectInvalid(R"({"model":"x","messages":[{"role":"tool","content":"r"}]})", "messages[0].role");
  ExpectInvalid(R"({"model":"x","messages":[{"role":"user","content":{"a":1}}]})",
                "messages[0].content");
  ExpectInvalid(R"({"model":"x","messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
                "messages[0].content[0].type");
  ExpectInvalid(R"({"model":"x","stream":"yes",)" + m + "}", "stream");
  ExpectInvalid(R"({"model":"x","stream_options":[],)" + m + "}", "stream_options");
  ExpectInvalid(R"({"model":"x","temperature":"hot",)" + m + "}", "temperature");
  ExpectInvalid(R"({"model":"x","max_tokens":-1,)" + m + "}", "max_tokens");
  ExpectInvalid(R"({"model":"x","max_tokens":1.5,)" + m + "}", "max_tokens");
  ExpectInvalid(R"({"model":"x","n":2,)" + m + "}", "n");
  ExpectInvalid(R"({"model":"x","stop":[1],)" + m + "}", "stop");
  ExpectInvalid(R"({"model":"x","tools":[{}],)" + m + "}", "tools");
  ExpectInvalid(R"({"model":"x","data_sources":{},)" + m + "}", "data_sources");
  ExpectInvalid(R"({"model":"x","data_sources":[{"type":"azure_search"}],)" + m + "}",
                "data_sources[0].type");
  ExpectInvalid(R"({"model":"x","data_sources":[{"type":"ragd"}],)" + m + "}",
                "data_sources[0].parameters");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"top_k":3}}],)" + m + "}",
      "parameters.collection");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"collection":"c","top_k":"3"}}],)" +
          m + "}",
      "parameters.top_k");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"collection":"c","search_mode":"fuzzy"}}],)" +
          m + "}",
      "expected vector, text or hybrid");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"collection":"c","filter":{"key":"k","in":[]}}}],)" +
          m + "}",
      "filter.in");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"collection":"c","filter":{"key":"k","equals":{"a":1}}}}],)" +
          m + "}",
      "filter.equals");
  ExpectInvalid(
      R"({"model":"x","data_sources":[{"type":"ragd","parameters":{"collection":"c","filter":{"and":[{"key":"k","equals":18446744073709551615}]}}}],)" +
          m + "}",
      "filter.and[0].equals");
}

TEST(HttpWireTest, DeepNestingIsRefusedNotRecursedInto) {
  // 100,000 levels: nlohmann parses iteratively; the filter parser stops at kMaxDepth.
  std::string filter;
  for (int i = 0; i < 100000; ++i) filter += R"({"not":)";
  filter += R"({"key":"k","equals":1})";
  filter += std::string(100000, '}');
  ExpectInvalid(
      R"({"model":"x","messages":[{"role":"user","content":"q"}],"data_sources":[{"type":"ragd","parameters":{"collection":"c","filter":)" +
          filter + "}}]}",
      "nested deeper than");
  std::string arrays = std::string(100000, '[') + std::string(100000, ']');
  ExpectInvalid(arrays, "JSON object");
  ExpectInvalid(R"({"model":"x","messages":)" + arrays + "}", "messages[0]");
}

// Random mutations of a valid body: each either parses or is INVALID_ARGUMENT, none throws.
TEST(HttpWireTest, MutatedBodiesNeverEscapeTheGuard) {
  const std::string valid =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"q"}],"data_sources":[{"type":"ragd","parameters":{"collection":"c","top_k":3,"filter":{"or":[{"key":"a","range":{"gt":1}},{"document_id":"d"}]}}}]})";
  std::mt19937 rng(17);
  const std::string alphabet = "{}[]\":,0123456789.-eE truefalsnul\\\x80\xff";
  for (int i = 0; i < 5000; ++i) {
    std::string body = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0:
          body[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          body.erase(at, 1 + rng() % 3);
          break;
        default:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
      if (body.empty()) body = "{";
    }
    absl::StatusOr<ChatCompletionRequest> r = ParseChat(body);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << body << r.status();
    }
  }
}

TEST(HttpWireTest, EmbeddingsRequests) {
  auto parse = [](const std::string& text) -> absl::StatusOr<EmbeddingsRequest> {
    absl::StatusOr<Json> body = ParseJsonObject(text);
    if (!body.ok()) return body.status();
    return ParseEmbeddingsRequest(*body);
  };
  absl::StatusOr<EmbeddingsRequest> r = parse(R"({"model":"local","input":"a"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->input, std::vector<std::string>{"a"});
  EXPECT_FALSE(r->base64);
  r = parse(R"({"model":"local","input":["a","b"],"encoding_format":"base64"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->input.size(), 2u);
  EXPECT_TRUE(r->base64);
  EXPECT_EQ(parse(R"({"input":"a"})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parse(R"({"model":"m","input":[[1,2]]})").status().message()),
              HasSubstr("input[0]"));
  EXPECT_THAT(std::string(parse(R"({"model":"m","input":[]})").status().message()),
              HasSubstr("input"));
  EXPECT_THAT(std::string(parse(R"({"model":"m","input":["a",""]})").status().message()),
              HasSubstr("input[1]"));
  EXPECT_THAT(
      std::string(
          parse(R"({"model":"m","input":"a","encoding_format":"int8"})").status().message()),
      HasSubstr("encoding_format"));
  Json many = {{"model", "m"}, {"input", std::vector<std::string>(kMaxEmbeddingInputs + 1, "x")}};
  EXPECT_THAT(std::string(parse(many.dump()).status().message()), HasSubstr("at most 2048"));
}

TEST(HttpWireTest, ErrorBodiesHaveOpenAisShape) {
  struct Case {
    absl::Status status;
    int http;
    const char* type;
  };
  for (const Case& c : {Case{absl::InvalidArgumentError("bad"), 400, "invalid_request_error"},
                        Case{absl::UnauthenticatedError("who"), 401, "authentication_error"},
                        Case{absl::PermissionDeniedError("no"), 403, "permission_error"},
                        Case{absl::NotFoundError("gone"), 404, "invalid_request_error"},
                        Case{absl::ResourceExhaustedError("slow"), 429, "rate_limit_error"},
                        Case{absl::UnavailableError("down"), 503, "server_error"},
                        Case{absl::InternalError("oops"), 500, "server_error"}}) {
    EXPECT_EQ(HttpStatusOf(c.status.code()), c.http);
    Json body = Json::parse(ErrorBody(c.status));
    EXPECT_EQ(body["error"]["type"], c.type);
    EXPECT_EQ(body["error"]["message"], std::string(c.status.message()));
    EXPECT_TRUE(body["error"].contains("param") && body["error"].contains("code"));
  }
  // `param` names the field a 400 is about, when the message starts with its path.
  auto param = [](const absl::Status& s) { return Json::parse(ErrorBody(s))["error"]["param"]; };
  EXPECT_EQ(param(absl::InvalidArgumentError("messages[0].role: must be a string")),
            "messages[0].role");
  EXPECT_EQ(param(absl::InvalidArgumentError("data_sources[0].parameters.top_k: too big")),
            "data_sources[0].parameters.top_k");
  EXPECT_TRUE(param(absl::InvalidArgumentError("request body: not valid JSON")).is_null());
  EXPECT_TRUE(param(absl::InvalidArgumentError("bad")).is_null());
  EXPECT_TRUE(param(absl::InvalidArgumentError(": x")).is_null());
  EXPECT_TRUE(param(absl::InvalidArgumentError("[0]: x")).is_null());
  EXPECT_TRUE(param(absl::NotFoundError("model: no-such-model")).is_null());  // 400s only
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kFailedPrecondition), 400);
}

TEST(HttpWireTest, CitationsHaveAzuresFieldsAndOurs) {
  index::ScoredPoint hit;
  hit.score = 0.5f;
  hit.point.id = "doc.md#2";
  hit.point.document_id = "doc.md";
  hit.point.text = "chunk text";
  hit.point.metadata = {
      {"title", std::string("Doc")}, {"heading_path", std::vector<std::string>{"A", "B"}},
      {"byte_begin", int64_t{10}},   {"byte_end", int64_t{20}},
      {"ordinal", int64_t{2}},       {"page", int64_t{3}}};
  Json c = CitationOf(hit);
  EXPECT_EQ(c["content"], "chunk text");
  EXPECT_EQ(c["title"], "Doc");
  EXPECT_TRUE(c["url"].is_null());
  EXPECT_EQ(c["filepath"], "doc.md");
  EXPECT_EQ(c["chunk_id"], "doc.md#2");
  EXPECT_EQ(c["document_id"], "doc.md");
  EXPECT_EQ(c["heading_path"], Json({"A", "B"}));
  EXPECT_EQ(c["byte_begin"], 10);
  EXPECT_EQ(c["byte_end"], 20);
  EXPECT_EQ(c["ordinal"], 2);
  EXPECT_EQ(c["page"], 3);
  EXPECT_FLOAT_EQ(c["score"].get<float>(), 0.5f);
  // Bytes that are not UTF-8 (never expected from the engine) are replaced, not thrown.
  hit.point.text = "bad \xff";
  EXPECT_THAT(Dump(CitationOf(hit)), HasSubstr("bad \xEF\xBF\xBD"));
}

}  // namespace
}  // namespace ragd::services::http_internal
