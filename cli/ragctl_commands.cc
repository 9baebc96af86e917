#include "cli/ragctl_commands.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli_json.h"
#include "cli/cli_output.h"
#include "cli/ragctl_channel.h"
#include "cli/session_tokens.h"
#include "common/status.h"

namespace ragd::cli {
namespace {

// The largest response ragctl accepts: a search with k=1000 and vectors of 65536 floats.
constexpr int kMaxReceiveBytes = 512 << 20;
constexpr size_t kTextColumnChars = 60;

const char* CodeName(grpc::StatusCode code) { return CanonicalCodeName(static_cast<int>(code)); }

int ExitCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 0;
    case grpc::StatusCode::NOT_FOUND:
      return 3;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 4;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 5;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 6;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 7;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 8;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 9;
    default:
      return 1;
  }
}

std::string MetadataSummary(const v1::Point& p) {
  std::vector<std::string> parts;
  // Sorted: protobuf maps iterate in no particular order.
  std::map<std::string, std::string> sorted;
  for (const auto& [key, value] : p.metadata()) sorted[key] = ToJson(value).dump();
  for (const auto& [key, value] : sorted) parts.push_back(absl::StrCat(key, "=", value));
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<v1::Metric> ParseMetric(const std::string& name) {
  if (name == "cosine") return v1::METRIC_COSINE;
  if (name == "dot") return v1::METRIC_DOT;
  if (name == "l2") return v1::METRIC_L2;
  return absl::InvalidArgumentError(
      absl::StrCat("--metric: expected cosine, dot or l2, got \"", name, "\""));
}

absl::StatusOr<v1::Quantization> ParseQuantization(const std::string& name) {
  if (name == "none") return v1::QUANTIZATION_NONE;
  if (name == "f16") return v1::QUANTIZATION_F16;
  if (name == "int8") return v1::QUANTIZATION_INT8;
  return absl::InvalidArgumentError(
      absl::StrCat("--quantization: expected none, f16 or int8, got \"", name, "\""));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open"));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) { return CodeName(code); }
int ExitCodeFor(grpc::StatusCode code) { return ExitCode(code); }

Ragctl::Ragctl(GlobalOptions options, std::ostream& out, std::ostream& err)
    : options_(std::move(options)), out_(out), err_(err) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  args.SetMaxSendMessageSize(kMaxReceiveBytes);
  std::shared_ptr<grpc::Channel> channel = CreateRagdChannel(options_, args);
  collections_ = v1::Collections::NewStub(channel);
  points_ = v1::Points::NewStub(channel);
}

void Ragctl::InitContext(grpc::ClientContext* context) const {
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
}

int Ragctl::Fail(const grpc::Status& status) {
  err_ << "ragctl: " << CodeName(status.error_code()) << ": "
       << OneLine(status.error_message(), 1000) << "\n";
  return ExitCode(status.error_code());
}

int Ragctl::UsageError(const absl::Status& status) {
  err_ << "ragctl: " << OneLine(status.message(), 1000) << "\n";
  return kExitUsage;
}

void Ragctl::PrintCollection(const v1::CollectionInfo& info) {
  if (options_.json) {
    out_ << ToJson(info).dump() << "\n";
    return;
  }
  Table table({"FIELD", "VALUE"});
  nlohmann::json j = ToJson(info);
  table.AddRow({"name", info.name()});
  table.AddRow({"dimension", absl::StrCat(info.dimension())});
  table.AddRow({"metric", MetricName(info.metric())});
  table.AddRow({"index", IndexSummary(info.index())});
  table.AddRow({"shards", absl::StrCat(info.shards())});
  if (info.has_embedder()) {
    table.AddRow({"embedder", absl::StrCat(info.embedder().name(), " (", info.embedder().provider(),
                                           " ", info.embedder().model(), ")")});
    table.AddRow({"chunking", absl::StrCat(info.chunking().max_tokens(), " tokens, overlap ",
                                           info.chunking().overlap_tokens())});
  }
  table.AddRow({"lexical", LexicalSummary(info.lexical())});
  table.AddRow({"points", absl::StrCat(info.points())});
  table.AddRow({"deleted_points", absl::StrCat(info.deleted_points())});
  table.AddRow({"index_bytes", absl::StrCat(info.index_bytes())});
  table.AddRow({"storage_bytes", absl::StrCat(info.storage_bytes())});
  table.AddRow({"last_sequence", absl::StrCat(info.last_sequence())});
  // CPU per search in the index since start-up: with the server's CPU per call it shows what the
  // request's handling costs around the walk.
  std::string searches = absl::StrCat(info.vector_searches());
  if (info.vector_searches() > 0) {
    absl::StrAppend(&searches, " (",
                    absl::StrFormat("%.1f", info.vector_search_cpu_seconds() * 1e6 /
                                                static_cast<double>(info.vector_searches())),
                    " µs of CPU each)");
  }
  table.AddRow({"vector_searches", searches});
  table.AddRow({"created_at_unix_ms", j["created_at_unix_ms"].dump()});
  table.Print(out_, options_.tty);
}

void Ragctl::PrintPoints(const google::protobuf::RepeatedPtrField<v1::Point>& points) {
  if (options_.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const v1::Point& p : points) list.push_back(ToJson(p));
    out_ << list.dump() << "\n";
    return;
  }
  Table table({"ID", "DOCUMENT", "TEXT", "METADATA"});
  for (const v1::Point& p : points) {
    table.AddRow(
        {p.id(), p.document_id(), OneLine(p.text(), kTextColumnChars), MetadataSummary(p)});
  }
  table.Print(out_, options_.tty);
}

int Ragctl::CreateCollection(const CreateCollectionOptions& o) {
  v1::CreateCollectionRequest request;
  request.set_name(o.name);
  request.set_dimension(o.dimension);
  const std::string embedder = o.embedder.empty() && o.dimension == 0 ? "local" : o.embedder;
  if (!embedder.empty()) {
    request.mutable_embedder()->set_name(embedder);
    if (o.chunk_tokens != 0 || o.chunk_overlap != 0) {
      request.mutable_chunking()->set_max_tokens(o.chunk_tokens);
      request.mutable_chunking()->set_overlap_tokens(o.chunk_overlap);
    }
  }
  if (!o.lexical.empty() || !o.analyzer.empty() || o.bm25_k1 || o.bm25_b) {
    v1::LexicalSpec* lexical = request.mutable_lexical();
    if (o.lexical == "off") {
      lexical->set_enabled(false);
    } else if (o.lexical.empty() || o.lexical == "on") {
      lexical->set_enabled(true);
    } else {
      return UsageError(absl::InvalidArgumentError(
          absl::StrCat("--lexical: expected on or off, got \"", o.lexical, "\"")));
    }
    const std::pair<const char*, v1::Analyzer> analyzers[] = {{"", v1::ANALYZER_AUTO},
                                                              {"auto", v1::ANALYZER_AUTO},
                                                              {"english", v1::ANALYZER_ENGLISH},
                                                              {"korean", v1::ANALYZER_KOREAN},
                                                              {"simple", v1::ANALYZER_SIMPLE}};
    bool known = false;
    for (const auto& [name, value] : analyzers) {
      if (o.analyzer == name) {
        lexical->set_analyzer(value);
        known = true;
      }
    }
    if (!known) {
      return UsageError(absl::InvalidArgumentError(absl::StrCat(
          "--analyzer: expected auto, english, korean or simple, got \"", o.analyzer, "\"")));
    }
    if (o.bm25_k1) lexical->set_k1(*o.bm25_k1);
    if (o.bm25_b) lexical->set_b(*o.bm25_b);
  }
  absl::StatusOr<v1::Metric> metric = ParseMetric(o.metric);
  if (!metric.ok()) return UsageError(metric.status());
  request.set_metric(*metric);
  request.set_shards(o.shards);
  absl::StatusOr<v1::Quantization> quantization = ParseQuantization(o.quantization);
  if (!quantization.ok()) return UsageError(quantization.status());
  if (*quantization != v1::QUANTIZATION_NONE && o.index != "hnsw") {
    return UsageError(absl::InvalidArgumentError("--quantization is for --index hnsw"));
  }
  if (o.index == "hnsw") {
    v1::HnswSpec* h = request.mutable_index()->mutable_hnsw();
    h->set_m(o.m);
    h->set_ef_construction(o.ef_construction);
    h->set_ef(o.ef);
    h->set_quantization(*quantization);
  } else if (o.index == "faiss") {
    v1::FaissSpec* f = request.mutable_index()->mutable_faiss();
    f->set_index_factory(o.faiss_factory);
    f->set_ef(o.ef);
    f->set_nprobe(o.nprobe);
  } else if (o.index == "flat") {
    request.mutable_index()->mutable_flat();
  } else {
    return UsageError(absl::InvalidArgumentError(
        absl::StrCat("--index: expected hnsw, faiss or flat, got \"", o.index, "\"")));
  }
  grpc::ClientContext context;
  InitContext(&context);
  v1::CreateCollectionResponse response;
  grpc::Status status = collections_->CreateCollection(&context, request, &response);
  if (!status.ok()) return Fail(status);
  PrintCollection(response.collection());
  return 0;
}

int Ragctl::ListCollections() {
  grpc::ClientContext context;
  InitContext(&context);
  v1::ListCollectionsResponse response;
  grpc::Status status = collections_->ListCollections(&context, {}, &response);
  if (!status.ok()) return Fail(status);
  if (options_.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : response.collections()) list.push_back(ToJson(c));
    out_ << list.dump() << "\n";
    return 0;
  }
  Table table({"NAME", "DIMENSION", "METRIC", "INDEX", "SHARDS", "POINTS", "DELETED"});
  for (const auto& c : response.collections()) {
    table.AddRow({c.name(), absl::StrCat(c.dimension()), MetricName(c.metric()),
                  IndexSummary(c.index()), absl::StrCat(c.shards()), absl::StrCat(c.points()),
                  absl::StrCat(c.deleted_points())});
  }
  table.Print(out_, options_.tty);
  return 0;
}

int Ragctl::GetCollection(const std::string& name) {
  v1::GetCollectionRequest request;
  request.set_name(name);
  grpc::ClientContext context;
  InitContext(&context);
  v1::GetCollectionResponse response;
  grpc::Status status = collections_->GetCollection(&context, request, &response);
  if (!status.ok()) return Fail(status);
  PrintCollection(response.collection());
  return 0;
}

int Ragctl::DeleteCollection(const std::string& name) {
  v1::DeleteCollectionRequest request;
  request.set_name(name);
  grpc::ClientContext context;
  InitContext(&context);
  v1::DeleteCollectionResponse response;
  grpc::Status status = collections_->DeleteCollection(&context, request, &response);
  if (!status.ok()) return Fail(status);
  if (options_.json) {
    out_ << nlohmann::json{{"deleted", name}}.dump() << "\n";
  } else {
    out_ << "deleted collection " << name << "\n";
  }
  return 0;
}

void WarnPartial(std::ostream& err, const v1::ShardCoverage& coverage) {
  if (coverage.missing_shards_size() == 0) return;
  err << "ragctl: partial answer: shards " << absl::StrJoin(coverage.missing_shards(), ", ")
      << " of " << coverage.shards_total()
      << " did not answer (their shard group has no ready replica)\n";
}

void ApplyReadConsistency(const GlobalOptions& options, const std::string& collection,
                          v1::ReadConsistency* level, uint64_t* token) {
  const std::string& c = options.consistency;
  *token = 0;
  if (c == "eventual") {
    *level = v1::READ_CONSISTENCY_EVENTUAL;
  } else if (c == "bounded") {
    *level = v1::READ_CONSISTENCY_BOUNDED;
  } else if (c == "strong") {
    *level = v1::READ_CONSISTENCY_STRONG;
  } else {
    // "session", or nothing said: read-your-writes when a token is known.
    std::optional<uint64_t> t = options.token;
    if (!t) t = LoadSessionToken(options.session_file, options.address, collection);
    if (c == "session" || t) {
      *level = v1::READ_CONSISTENCY_SESSION;
      *token = t.value_or(0);
    } else {
      *level = v1::READ_CONSISTENCY_UNSPECIFIED;
    }
  }
}

void RememberWrite(const GlobalOptions& options, const std::string& collection,
                   uint64_t sequence) {
  (void)SaveSessionToken(options.session_file, options.address, collection, sequence);
}

int Ragctl::Upsert(const std::string& collection, const std::string& path, size_t batch_size) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return UsageError(absl::InvalidArgumentError(absl::StrCat(path, ": cannot open")));
    in = &file;
  }
  if (batch_size == 0) batch_size = 1;
  uint64_t total = 0;
  v1::UpsertRequest request;
  request.set_collection(collection);
  auto flush = [&]() -> grpc::Status {
    if (request.points().empty()) return grpc::Status::OK;
    grpc::ClientContext context;
    InitContext(&context);
    v1::UpsertResponse response;
    grpc::Status status = points_->Upsert(&context, request, &response);
    if (status.ok()) {
      total += response.upserted();
      RememberWrite(options_, collection, response.sequence());
    }
    request.clear_points();
    return status;
  };
  std::string line;
  size_t line_number = 0;
  while (std::getline(*in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<v1::Point> point = ParsePoint(line);
    if (!point.ok()) {
      return UsageError(absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", point.status().message())));
    }
    *request.add_points() = *std::move(point);
    if (static_cast<size_t>(request.points_size()) >= batch_size) {
      if (grpc::Status s = flush(); !s.ok()) {
        err_ << "ragctl: " << total << " points upserted before the failure\n";
        return Fail(s);
      }
    }
  }
  if (grpc::Status s = flush(); !s.ok()) {
    err_ << "ragctl: " << total << " points upserted before the failure\n";
    return Fail(s);
  }
  if (options_.json) {
    out_ << nlohmann::json{{"upserted", total}}.dump() << "\n";
  } else {
    out_ << "upserted " << total << " points\n";
  }
  return 0;
}

int Ragctl::SearchBatch(const SearchOptions& o) {
  absl::StatusOr<std::string> text = ReadWholeFile(o.batch_file);
  if (!text.ok()) return UsageError(text.status());
  if (o.batch_size == 0) return UsageError(absl::InvalidArgumentError("--batch-size: at least 1"));
  v1::SearchRequest defaults;
  v1::SearchMode mode;
  if (absl::Status s = ApplySearchModeFlags(o.modes, &mode, defaults.mutable_fusion()); !s.ok()) {
    return UsageError(s);
  }
  defaults.set_mode(mode);
  defaults.set_k(o.k);
  if (o.ef) defaults.set_ef(*o.ef);
  if (!o.filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(o.filter_json);
    if (!filter.ok()) return UsageError(filter.status());
    *defaults.mutable_filter() = *std::move(filter);
  }
  if (o.min_score) defaults.set_min_score(*o.min_score);
  defaults.set_with_vectors(o.with_vectors);
  if (o.no_rescore) defaults.set_rescore(false);
  defaults.set_oversampling(o.oversampling);
  defaults.set_collection(o.collection);
  ApplyReadConsistency(options_, &defaults);

  std::vector<v1::SearchRequest> searches;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto fail = [&](absl::string_view why) {
      return UsageError(absl::InvalidArgumentError(
          absl::StrCat(o.batch_file, ":", line_number, ": ", why)));
    };
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (!j.is_object()) return fail("not a JSON object");
    v1::SearchRequest request = defaults;
    try {
      for (const auto& [key, value] : j.items()) {
        if (key == "vector") {
          absl::StatusOr<std::vector<float>> vector = ParseVector(value.dump());
          if (!vector.ok()) return fail(vector.status().message());
          request.mutable_vector()->Add(vector->begin(), vector->end());
        } else if (key == "text") {
          request.set_text(value.get<std::string>());
        } else if (key == "mode") {
          SearchModeFlags flags = o.modes;
          flags.mode = value.get<std::string>();
          v1::SearchMode m;
          if (absl::Status s = ApplySearchModeFlags(flags, &m, request.mutable_fusion()); !s.ok()) {
            return fail(s.message());
          }
          request.set_mode(m);
        } else if (key == "k") {
          request.set_k(value.get<uint32_t>());
        } else if (key == "ef") {
          request.set_ef(value.get<uint32_t>());
        } else if (key == "min_score") {
          request.set_min_score(value.get<float>());
        } else if (key == "filter") {
          absl::StatusOr<v1::Filter> filter = ParseFilter(value.dump());
          if (!filter.ok()) return fail(filter.status().message());
          *request.mutable_filter() = *std::move(filter);
        } else {
          return fail(absl::StrCat("unknown field \"", key,
                                   "\" (vector, text, mode, k, ef, min_score, filter)"));
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return fail(e.what());
    }
    searches.push_back(std::move(request));
  }
  for (size_t begin = 0; begin < searches.size(); begin += o.batch_size) {
    v1::SearchBatchRequest request;
    request.set_collection(o.collection);
    const size_t end = std::min(searches.size(), begin + o.batch_size);
    for (size_t i = begin; i < end; ++i) *request.add_searches() = std::move(searches[i]);
    grpc::ClientContext context;
    InitContext(&context);
    v1::SearchBatchResponse response;
    grpc::Status status = points_->SearchBatch(&context, request, &response);
    if (!status.ok()) return Fail(status);
    for (const v1::SearchResponse& result : response.results()) {
      WarnPartial(err_, result.coverage());
      nlohmann::json hits = nlohmann::json::array();
      for (const auto& hit : result.hits()) hits.push_back(ToJson(hit));
      out_ << hits.dump() << "\n";
    }
  }
  return 0;
}

int Ragctl::Search(const SearchOptions& o) {
  if (!o.batch_file.empty()) return SearchBatch(o);
  v1::SearchRequest request;
  request.set_collection(o.collection);
  std::string vector_text = o.vector_json;
  if (!o.vector_file.empty()) {
    absl::StatusOr<std::string> text = ReadWholeFile(o.vector_file);
    if (!text.ok()) return UsageError(text.status());
    vector_text = *std::move(text);
  }
  if (!vector_text.empty()) {
    absl::StatusOr<std::vector<float>> vector = ParseVector(vector_text);
    if (!vector.ok()) return UsageError(vector.status());
    request.mutable_vector()->Add(vector->begin(), vector->end());
  }
  request.set_text(o.text);
  v1::SearchMode mode;
  if (absl::Status s = ApplySearchModeFlags(o.modes, &mode, request.mutable_fusion()); !s.ok()) {
    return UsageError(s);
  }
  request.set_mode(mode);
  request.set_k(o.k);
  if (o.ef) request.set_ef(*o.ef);
  if (!o.filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(o.filter_json);
    if (!filter.ok()) return UsageError(filter.status());
    *request.mutable_filter() = *std::move(filter);
  }
  if (o.min_score) request.set_min_score(*o.min_score);
  request.set_with_vectors(o.with_vectors);
  if (o.no_rescore) request.set_rescore(false);
  request.set_oversampling(o.oversampling);
  ApplyReadConsistency(options_, &request);
  grpc::ClientContext context;
  InitContext(&context);
  v1::SearchResponse response;
  grpc::Status status = points_->Search(&context, request, &response);
  if (!status.ok()) return Fail(status);
  WarnPartial(err_, response.coverage());
  if (options_.json) {
    nlohmann::json hits = nlohmann::json::array();
    for (const auto& hit : response.hits()) hits.push_back(ToJson(hit));
    out_ << hits.dump() << "\n";
    return 0;
  }
  Table table({"RANK", "SCORE", "LEGS", "ID", "DOCUMENT", "TEXT"});
  int rank = 0;
  for (const auto& hit : response.hits()) {
    table.AddRow({absl::StrCat(++rank), absl::StrFormat("%.4f", hit.score()),
                  LegsSummary(hit.has_vector_leg() ? &hit.vector_leg() : nullptr,
                              hit.has_text_leg() ? &hit.text_leg() : nullptr),
                  hit.point().id(), hit.point().document_id(),
                  OneLine(hit.point().text(), kTextColumnChars)});
  }
  table.Print(out_, options_.tty);
  return 0;
}

int Ragctl::Get(const std::string& collection, const std::vector<std::string>& ids,
                bool with_vectors) {
  v1::GetRequest request;
  request.set_collection(collection);
  for (const std::string& id : ids) request.add_ids(id);
  request.set_with_vectors(with_vectors);
  ApplyReadConsistency(options_, &request);
  grpc::ClientContext context;
  InitContext(&context);
  v1::GetResponse response;
  grpc::Status status = points_->Get(&context, request, &response);
  if (!status.ok()) return Fail(status);
  WarnPartial(err_, response.coverage());
  PrintPoints(response.points());
  return 0;
}

int Ragctl::Delete(const std::string& collection, const std::vector<std::string>& ids,
                   const std::string& filter_json) {
  if (ids.empty() == filter_json.empty()) {
    return UsageError(absl::InvalidArgumentError("points delete: give ids or --filter, not both"));
  }
  v1::DeleteRequest request;
  request.set_collection(collection);
  if (!filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(filter_json);
    if (!filter.ok()) return UsageError(filter.status());
    *request.mutable_filter() = *std::move(filter);
  } else {
    for (const std::string& id : ids) request.mutable_ids()->add_ids(id);
  }
  grpc::ClientContext context;
  InitContext(&context);
  v1::DeleteResponse response;
  grpc::Status status = points_->Delete(&context, request, &response);
  if (!status.ok()) return Fail(status);
  RememberWrite(options_, collection, response.sequence());
  if (options_.json) {
    out_ << nlohmann::json{{"deleted", response.deleted()}}.dump() << "\n";
  } else {
    out_ << "deleted " << response.deleted() << " points\n";
  }
  return 0;
}

int Ragctl::Count(const std::string& collection, const std::string& filter_json) {
  v1::CountRequest request;
  request.set_collection(collection);
  if (!filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(filter_json);
    if (!filter.ok()) return UsageError(filter.status());
    *request.mutable_filter() = *std::move(filter);
  }
  ApplyReadConsistency(options_, &request);
  grpc::ClientContext context;
  InitContext(&context);
  v1::CountResponse response;
  grpc::Status status = points_->Count(&context, request, &response);
  if (!status.ok()) return Fail(status);
  WarnPartial(err_, response.coverage());
  if (options_.json) {
    out_ << nlohmann::json{{"count", response.count()}}.dump() << "\n";
  } else {
    out_ << response.count() << "\n";
  }
  return 0;
}

}  // namespace ragd::cli
