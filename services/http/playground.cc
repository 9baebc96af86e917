#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"
#include "ingest/chunk_schema.h"
#include "ingest/loaders/document_loader.h"
#include "services/http/playground_internal.h"
#include "services/http/routes_internal.h"

namespace ragd::services::http_internal {
namespace {

// Largest k the page may ask (the retriever's own bound, retrieval.max_k, applies too).
constexpr size_t kMaxPageK = 50;

const PlaygroundAsset* FindAsset(std::string_view name) {
  for (size_t i = 0; i < kPlaygroundAssetCount; ++i) {
    if (name == kPlaygroundAssets[i].name) return &kPlaygroundAssets[i];
  }
  return nullptr;
}

void SendAsset(httplib::Response& res, const PlaygroundAsset& asset) {
  res.status = 200;
  // The page talks only to this origin and runs only its own scripts: a script injected through
  // a document's text (shown on the page) could not load or send anything elsewhere.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                 "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(reinterpret_cast<const char*>(asset.data), asset.size, asset.content_type);
}

absl::StatusOr<index::Engine*> EngineOf(const HttpFrontResources& r) {
  if (r.engine == nullptr) return absl::UnavailableError("the playground API is not enabled");
  return r.engine->Get();
}

// GET /v1/ragd/collections
void HandleCollections(const HttpFrontResources& r, const httplib::Request& req,
                       httplib::Response& res) {
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Admit(r, req, Method::kListCollections, ""));
    ASSIGN_OR_RETURN(index::Engine * engine, EngineOf(r));
    std::vector<index::CollectionInfo> infos = engine->ListCollections();
    std::sort(infos.begin(), infos.end(),
              [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    Json data = Json::array();
    for (const index::CollectionInfo& info : infos) {
      // A key scoped to some collections sees only those (as ListCollections over gRPC).
      if (!InScope(r, req, Method::kGetCollection, info.spec.name).ok()) continue;
      data.push_back({{"name", info.spec.name},
                      {"dimension", info.spec.dimension},
                      {"points", info.points},
                      {"lexical", info.spec.lexical.enabled},
                      {"created_at_unix_ms", info.created_at_unix_ms}});
    }
    SendJson(res, {{"object", "list"}, {"data", std::move(data)}});
    return absl::OkStatus();
  }();
  if (!s.ok()) SendError(res, s);
}

absl::StatusOr<std::string> RequiredString(const Json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": a non-empty string is required"));
  }
  return it->get<std::string>();
}

const char* ModeName(index::SearchMode mode) {
  switch (mode) {
    case index::SearchMode::kVector:
      return "vector";
    case index::SearchMode::kText:
      return "text";
    case index::SearchMode::kHybrid:
      return "hybrid";
  }
  return "vector";
}

// POST /v1/ragd/search
void HandleSearch(const HttpFrontResources& r, const httplib::Request& req,
                  httplib::Response& res) {
  rag::TextQuery query;
  absl::Status parsed = WithJsonGuard([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Json body, ParseJsonObject(req.body));
    ASSIGN_OR_RETURN(query.collection, RequiredString(body, "collection"));
    ASSIGN_OR_RETURN(query.text, RequiredString(body, "query"));
    if (auto it = body.find("mode"); it != body.end() && !it->is_null()) {
      const std::string mode = it->is_string() ? it->get<std::string>() : "";
      if (mode == "vector") {
        query.mode = index::SearchMode::kVector;
      } else if (mode == "text") {
        query.mode = index::SearchMode::kText;
      } else if (mode == "hybrid") {
        query.mode = index::SearchMode::kHybrid;
      } else {
        return absl::InvalidArgumentError("mode: expected \"vector\", \"text\" or \"hybrid\"");
      }
    }
    if (auto it = body.find("k"); it != body.end() && !it->is_null()) {
      if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > kMaxPageK) {
        return absl::InvalidArgumentError(absl::StrCat("k: an integer from 1 to ", kMaxPageK));
      }
      query.k = it->get<uint64_t>();
    }
    if (auto it = body.find("allow_partial"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return absl::InvalidArgumentError("allow_partial: must be true or false");
      query.allow_partial = it->get<bool>();
    }
    return absl::OkStatus();
  });
  // The key first, as on every route: an unauthenticated caller learns nothing of the body.
  if (absl::Status s = Admit(r, req, Method::kRetrieve, parsed.ok() ? query.collection : "");
      !s.ok()) {
    return SendError(res, s);
  }
  if (!parsed.ok()) return SendError(res, parsed);
  if (r.answers.retriever == nullptr) {
    return SendError(res, absl::UnavailableError("the playground API is not enabled"));
  }
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<rag::TextQueryResult> found = r.answers.retriever->Retrieve(query);
  if (!found.ok()) return SendError(res, found.status());
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  Json data = Json::array();
  for (const index::ScoredPoint& hit : found->hits) data.push_back(CitationOf(hit));
  Json body = {{"object", "list"},
               {"mode", ModeName(found->mode)},
               {"embedder", found->embedder},
               {"took_ms", ms},
               {"data", std::move(data)}};
  if (found->coverage) body["coverage"] = CoverageOf(*found->coverage);
  SendJson(res, body);
}

// GET /v1/ragd/collections/{c}/documents/{id}
void HandleDocument(const HttpFrontResources& r, const httplib::Request& req,
                    httplib::Response& res) {
  const std::string collection = req.matches[1];
  const std::string document_id = req.matches[2];
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Admit(r, req, Method::kGetDocument, collection));
    ASSIGN_OR_RETURN(index::Engine * engine, EngineOf(r));
    ASSIGN_OR_RETURN(ingest::StoredDocument doc,
                     ingest::ReadDocument(*engine, collection, document_id,
                                          /*with_vectors=*/false));
    Json chunks = Json::array();
    for (index::Point& p : doc.chunks) {
      index::ScoredPoint hit;
      hit.point = std::move(p);
      Json c = CitationOf(hit);
      c.erase("score");  // not a search: no score
      chunks.push_back(std::move(c));
    }
    SendJson(res, {{"object", "document"},
                   {"id", doc.id},
                   {"title", doc.title},
                   {"content_hash", doc.content_hash},
                   {"chunks", std::move(chunks)}});
    return absl::OkStatus();
  }();
  if (!s.ok()) SendError(res, s);
}

// POST /v1/ragd/collections/{c}/files?name=NAME
void HandleUpload(const HttpFrontResources& r, const httplib::Request& req,
                  httplib::Response& res) {
  const std::string collection = req.matches[1];
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Admit(r, req, Method::kUpsertDocument, collection));
    if (!r.uploads_disabled_reason.empty()) {
      return absl::UnimplementedError(r.uploads_disabled_reason);
    }
    const std::string name = req.get_param_value("name");
    if (name.empty() || !IsValidUtf8(name) || name.size() > 512) {
      return absl::InvalidArgumentError(
          "name: the file's name (1 to 512 bytes of UTF-8) is required as ?name=, its "
          "extension picks the loader");
    }
    if (req.body.size() > r.max_document_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("file ", EchoPrefix(name), ": ",
                                                     req.body.size(), " bytes, more than ",
                                                     r.max_document_bytes,
                                                     " (ingest.max_document_bytes)"));
    }
    ASSIGN_OR_RETURN(Format format, FormatForPath(std::filesystem::path(name)));
    ASSIGN_OR_RETURN(index::Engine * engine, EngineOf(r));
    if (r.ingestors == nullptr) return absl::UnavailableError("the playground API is not enabled");
    ASSIGN_OR_RETURN(rag::IngestorCache::Bound bound, r.ingestors->For(engine, collection));
    auto start = std::chrono::steady_clock::now();
    ingest::SourceInfo source{name, name};
    std::vector<absl::StatusOr<ingest::Document>> docs =
        ingest::MakeLoader(format)->Load(req.body, source);
    Json documents = Json::array();
    size_t chunks = 0, tokens = 0, failed = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
      ingest::DocumentResult result;
      if (docs[i].ok()) {
        result = bound.ingestor->IngestDocument(collection, *docs[i]);
      } else {
        result.document_id = docs.size() == 1 ? name : absl::StrCat(name, "[", i, "]");
        result.outcome = ingest::DocumentOutcome::kFailed;
        result.status = docs[i].status();
      }
      Json d = {{"id", result.document_id},
                {"outcome", std::string(ingest::DocumentOutcomeName(result.outcome))},
                {"chunks", result.chunks},
                {"tokens", result.tokens},
                {"embedded_chunks", result.embedded_chunks},
                {"cached_chunks", result.cached_chunks}};
      if (!result.status.ok()) d["error"] = std::string(result.status.message());
      chunks += result.chunks;
      tokens += result.tokens;
      if (result.outcome == ingest::DocumentOutcome::kFailed) ++failed;
      documents.push_back(std::move(d));
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SendJson(res, {{"object", "ingest.file"},
                   {"file", name},
                   {"format", std::string(FormatName(format))},
                   {"bytes", req.body.size()},
                   {"documents", std::move(documents)},
                   {"chunks", chunks},
                   {"tokens", tokens},
                   {"failed", failed},
                   {"seconds", seconds}});
    return absl::OkStatus();
  }();
  if (!s.ok()) SendError(res, s);
}

}  // namespace

void AddPlaygroundRoutes(httplib::Server& server, const HttpFrontResources* resources,
                         const std::atomic<bool>* stopping) {
  const HttpFrontResources* r = resources;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    SendAsset(res, *FindAsset("index.html"));
  });
  server.Get("/playground/([A-Za-z0-9_.-]+)",
             [](const httplib::Request& req, httplib::Response& res) {
               const std::string name = req.matches[1];
               const PlaygroundAsset* asset = FindAsset(name);
               if (asset == nullptr) {
                 SendError(res, absl::NotFoundError(
                                    absl::StrCat("no playground file ", EchoPrefix(name))));
                 return;
               }
               SendAsset(res, *asset);
             });
  server.Get("/v1/ragd/collections", [r](const httplib::Request& req, httplib::Response& res) {
    HandleCollections(*r, req, res);
  });
  server.Post("/v1/ragd/search", [r](const httplib::Request& req, httplib::Response& res) {
    HandleSearch(*r, req, res);
  });
  // The document id is the rest of the path (ids such as "guides/install.md" hold slashes);
  // cpp-httplib has decoded %XX escapes.
  server.Get("/v1/ragd/collections/([^/]+)/documents/(.+)",
             [r](const httplib::Request& req, httplib::Response& res) {
               HandleDocument(*r, req, res);
             });
  server.Post("/v1/ragd/collections/([^/]+)/files",
              [r](const httplib::Request& req, httplib::Response& res) {
                HandleUpload(*r, req, res);
              });
  AddIngestJobRoutes(server, resources, stopping);
}

}  // namespace ragd::services::http_internal
