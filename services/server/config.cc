#include "services/server/config.h"

#include "cluster/router.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "services/http/http_server.h"
#include "services/server/config_yaml_internal.h"
#include "services/server/secrets.h"

extern char** environ;

namespace ragd::services {
namespace {

// One setting: its key and how to parse (with range checks) and print it. The table below is
// the single list of keys that YAML, the environment and flags all go through.
struct Setting {
  std::string key;
  std::function<absl::Status(absl::string_view, Config*)> parse;
  std::function<std::string(const Config&)> format;
};

absl::Status BadValue(absl::string_view key, absl::string_view what, absl::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what, ", got \"", value, "\""));
}

template <typename Access>
Setting IntSetting(std::string key, Access access, int64_t lo, int64_t hi) {
  Setting s;
  s.key = key;
  s.parse = [key, access, lo, hi](absl::string_view text, Config* c) -> absl::Status {
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v)) return BadValue(key, "expected an integer", text);
    if (v < lo || v > hi) {
      return BadValue(key, absl::StrCat("must be in ", lo, "..", hi), text);
    }
    // The field is the layer's own (size_t, int, int64_t): the range above fits every one.
    auto& field = access(*c);
    field = static_cast<std::remove_reference_t<decltype(field)>>(v);
    return absl::OkStatus();
  };
  s.format = [access](const Config& c) { return absl::StrCat(access(const_cast<Config&>(c))); };
  return s;
}

// A std::chrono::milliseconds field, written as an integer number of milliseconds.
template <typename Access>
Setting MillisecondsSetting(std::string key, Access access, int64_t lo, int64_t hi) {
  Setting s;
  s.key = key;
  s.parse = [key, access, lo, hi](absl::string_view text, Config* c) -> absl::Status {
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v)) return BadValue(key, "expected an integer", text);
    if (v < lo || v > hi) {
      return BadValue(key, absl::StrCat("must be in ", lo, "..", hi), text);
    }
    access(*c) = std::chrono::milliseconds(v);
    return absl::OkStatus();
  };
  s.format = [access](const Config& c) {
    return absl::StrCat(access(const_cast<Config&>(c)).count());
  };
  return s;
}

template <typename Access>
Setting DoubleSetting(std::string key, Access access, double lo, double hi) {
  Setting s;
  s.key = key;
  s.parse = [key, access, lo, hi](absl::string_view text, Config* c) -> absl::Status {
    double v = 0;
    if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
      return BadValue(key, "expected a number", text);
    }
    if (v < lo || v > hi) return BadValue(key, absl::StrCat("must be in ", lo, "..", hi), text);
    access(*c) = v;
    return absl::OkStatus();
  };
  s.format = [access](const Config& c) { return absl::StrCat(access(const_cast<Config&>(c))); };
  return s;
}

template <typename Access>
Setting BoolSetting(std::string key, Access access) {
  Setting s;
  s.key = key;
  s.parse = [key, access](absl::string_view text, Config* c) -> absl::Status {
    std::string lower = absl::AsciiStrToLower(text);
    if (lower == "true") {
      access(*c) = true;
    } else if (lower == "false") {
      access(*c) = false;
    } else {
      return BadValue(key, "expected true or false", text);
    }
    return absl::OkStatus();
  };
  s.format = [access](const Config& c) {
    return std::string(access(const_cast<Config&>(c)) ? "true" : "false");
  };
  return s;
}

// `allowed` empty: any non-empty string unless `may_be_empty`.
template <typename Access>
Setting StringSetting(std::string key, Access access, bool may_be_empty,
                      std::vector<std::string> allowed = {}) {
  Setting s;
  s.key = key;
  s.parse = [key, access, may_be_empty, allowed](absl::string_view text,
                                                 Config* c) -> absl::Status {
    if (text.empty() && !may_be_empty) return BadValue(key, "must not be empty", text);
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      return BadValue(key, absl::StrCat("expected one of ", absl::StrJoin(allowed, ", ")), text);
    }
    access(*c) = std::string(text);
    return absl::OkStatus();
  };
  s.format = [access](const Config& c) { return access(const_cast<Config&>(c)); };
  return s;
}

// retrieval.hybrid_fusion: "rrf" or "weighted".
Setting FusionSetting(std::string key) {
  Setting s;
  s.key = key;
  s.parse = [key](absl::string_view text, Config* c) -> absl::Status {
    if (text == "rrf") {
      c->retrieval.retriever.hybrid_fusion = index::Fusion::kRrf;
    } else if (text == "weighted") {
      c->retrieval.retriever.hybrid_fusion = index::Fusion::kWeighted;
    } else {
      return BadValue(key, "expected one of rrf, weighted", text);
    }
    return absl::OkStatus();
  };
  s.format = [](const Config& c) -> std::string {
    return c.retrieval.retriever.hybrid_fusion == index::Fusion::kRrf ? "rrf" : "weighted";
  };
  return s;
}

// cluster.nats_urls: "nats://a:4222,nats://b:4222"; empty turns cluster mode off.
Setting NatsUrlsSetting(std::string key) {
  Setting s;
  s.key = key;
  s.parse = [key](absl::string_view text, Config* c) -> absl::Status {
    std::vector<std::string> urls;
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (part.empty()) continue;
      if (!absl::StartsWith(part, "nats://") && !absl::StartsWith(part, "tls://")) {
        return BadValue(key, "expected nats://HOST:PORT URLs separated by commas", text);
      }
      urls.emplace_back(part);
    }
    c->cluster.log.urls = std::move(urls);
    return absl::OkStatus();
  };
  s.format = [](const Config& c) { return absl::StrJoin(c.cluster.log.urls, ","); };
  return s;
}

// cluster.peers: "host:port,dns:ragd-headless:50051" (checked by cluster::RouterOptions).
Setting PeersSetting(std::string key) {
  Setting s;
  s.key = key;
  s.parse = [key](absl::string_view text, Config* c) -> absl::Status {
    std::vector<std::string> peers;
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (!part.empty()) peers.emplace_back(part);
    }
    cluster::RouterOptions o;
    o.peers = peers;
    if (absl::Status st = o.Validate(); !st.ok()) return BadValue(key, st.message(), text);
    c->cluster.peers = std::move(peers);
    return absl::OkStatus();
  };
  s.format = [](const Config& c) { return absl::StrJoin(c.cluster.peers, ","); };
  return s;
}

// host:port (port 0 to 65535, services/http's ValidateListenAddress), or empty (disabled).
template <typename Access>
Setting ListenSetting(std::string key, Access access) {
  Setting s = StringSetting(key, access, true);
  s.parse = [key, access](absl::string_view text, Config* c) -> absl::Status {
    if (!text.empty()) RETURN_IF_ERROR(ValidateListenAddress(key, std::string(text)));
    access(*c) = std::string(text);
    return absl::OkStatus();
  };
  return s;
}

const std::vector<Setting>& Settings() {
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  // clang-format off (one row per setting reads better than clang-format's layout)
  static const std::vector<Setting>* settings = new std::vector<Setting>{
      StringSetting("server.listen", [](Config& c) -> auto& { return c.server.listen; }, false),
      IntSetting("server.max_message_bytes",
                 [](Config& c) -> auto& { return c.server.max_message_bytes; }, 1024, kMaxInt),
      IntSetting("server.workers", [](Config& c) -> auto& { return c.server.workers; }, 1, 1024),
      IntSetting("server.max_queued_writes",
                 [](Config& c) -> auto& { return c.server.max_queued_writes; }, 1, 1 << 20),
      IntSetting("server.search_workers",
                 [](Config& c) -> auto& { return c.server.search_workers; }, 0, 1024),
      IntSetting("server.max_queued_searches",
                 [](Config& c) -> auto& { return c.server.max_queued_searches; }, 1, 1 << 20),
      IntSetting("server.inline_searches",
                 [](Config& c) -> auto& { return c.server.inline_searches; }, 0, 64),
      IntSetting("server.max_search_batch",
                 [](Config& c) -> auto& { return c.server.max_search_batch; }, 1, 1 << 20),
      IntSetting("server.shutdown_grace_seconds",
                 [](Config& c) -> auto& { return c.server.shutdown_grace_seconds; }, 0, 3600),
      StringSetting("server.port_file", [](Config& c) -> auto& { return c.server.port_file; },
                    true),
      StringSetting("server.admin_listen",
                    [](Config& c) -> auto& { return c.server.admin_listen; }, true),
      StringSetting("server.admin_port_file",
                    [](Config& c) -> auto& { return c.server.admin_port_file; }, true),
      ListenSetting("server.http_listen",
                    [](Config& c) -> auto& { return c.server.http_listen; }),
      StringSetting("server.http_port_file",
                    [](Config& c) -> auto& { return c.server.http_port_file; }, true),
      StringSetting("server.http_tls.cert_file",
                    [](Config& c) -> auto& { return c.server.http_tls.cert_file; }, true),
      StringSetting("server.http_tls.key_file",
                    [](Config& c) -> auto& { return c.server.http_tls.key_file; }, true),
      IntSetting("server.http_threads",
                 [](Config& c) -> auto& { return c.server.http_threads; }, 1, 1024),
      StringSetting("server.tls.cert_file",
                    [](Config& c) -> auto& { return c.server.tls.cert_file; }, true),
      StringSetting("server.tls.key_file",
                    [](Config& c) -> auto& { return c.server.tls.key_file; }, true),
      StringSetting("server.tls.client_ca_file",
                    [](Config& c) -> auto& { return c.server.tls.client_ca_file; }, true),
      StringSetting("server.admin_tls.cert_file",
                    [](Config& c) -> auto& { return c.server.admin_tls.cert_file; }, true),
      StringSetting("server.admin_tls.key_file",
                    [](Config& c) -> auto& { return c.server.admin_tls.key_file; }, true),
      StringSetting("storage.data_dir", [](Config& c) -> auto& { return c.storage.data_dir; },
                    false),
      StringSetting("storage.restore_from",
                    [](Config& c) -> auto& { return c.storage.restore_from; }, true),
      IntSetting("ingest.workers", [](Config& c) -> auto& { return c.ingest.service.ingestors.workers; }, 1, 64),
      IntSetting("ingest.queue_capacity",
                 [](Config& c) -> auto& { return c.ingest.service.ingestors.queue_capacity; }, 1, 4096),
      IntSetting("ingest.cache_max_entries",
                 [](Config& c) -> auto& { return c.ingest.service.ingestors.cache_max_entries; },
                 1, int64_t{1} << 40),
      IntSetting("ingest.chunk_tokens", [](Config& c) -> auto& { return c.ingest.chunking.max_tokens; },
                 16, 8191),
      IntSetting("ingest.chunk_overlap_tokens",
                 [](Config& c) -> auto& { return c.ingest.chunking.overlap_tokens; }, 0, 4095),
      IntSetting("ingest.max_document_bytes",
                 [](Config& c) -> auto& { return c.ingest.service.max_document_bytes; }, 1, 1 << 30),
      IntSetting("ingest.max_streams", [](Config& c) -> auto& { return c.ingest.service.max_streams; },
                 1, 1024),
      IntSetting("ingest.max_summary_results",
                 [](Config& c) -> auto& { return c.ingest.service.max_summary_results; }, 0, 1000000),
      IntSetting("engine.max_text_bytes",
                 [](Config& c) -> auto& { return c.engine.max_text_bytes; }, 0, 1 << 30),
      IntSetting("engine.max_batch_points",
                 [](Config& c) -> auto& { return c.engine.max_batch_points; }, 1, 1000000),
      IntSetting("engine.max_k", [](Config& c) -> auto& { return c.engine.max_k; }, 1, 100000),
      DoubleSetting("engine.compaction_ratio",
                    [](Config& c) -> auto& { return c.engine.compaction_ratio; }, 0.01, 100.0),
      IntSetting("engine.compaction_min_removed",
                 [](Config& c) -> auto& { return c.engine.compaction_min_removed; }, 0, kMaxInt),
      IntSetting("engine.brute_force_max_matches",
                 [](Config& c) -> auto& { return c.engine.brute_force_max_matches; }, 0,
                 kMaxInt),
      BoolSetting("engine.sync_writes", [](Config& c) -> auto& { return c.engine.sync_writes; }),
      BoolSetting("engine.filter_plan_by_cost",
                  [](Config& c) -> auto& { return c.engine.filter_plan_by_cost; }),
      BoolSetting("engine.metadata_index",
                  [](Config& c) -> auto& { return c.engine.metadata_index; }),
      IntSetting("engine.search_leg_threads",
                 [](Config& c) -> auto& { return c.engine.search_leg_threads; }, 0, 64),
      IntSetting("engine.snapshot_interval_seconds",
                 [](Config& c) -> auto& { return c.engine.snapshot_interval_seconds; }, 0,
                 86400 * 7),
      IntSetting("engine.block_cache_bytes",
                 [](Config& c) -> auto& { return c.engine.block_cache_bytes; }, 0,
                 int64_t{1} << 40),
      IntSetting("engine.idle_flush_seconds",
                 [](Config& c) -> auto& { return c.engine.idle_flush_seconds; }, 0, 86400),
      BoolSetting("engine.rescore_file",
                  [](Config& c) -> auto& { return c.engine.rescore_file; }),
      IntSetting("engine.insert_threads",
                 [](Config& c) -> auto& { return c.engine.insert_threads; }, 0, 64),
      StringSetting("log.level", [](Config& c) -> auto& { return c.log.level; }, false,
                    {"trace", "debug", "info", "warn", "error", "critical", "off"}),
      StringSetting("log.format", [](Config& c) -> auto& { return c.log.format; }, false,
                    {"text", "json"}),
      BoolSetting("auth.allow_unauthenticated",
                  [](Config& c) -> auto& { return c.auth.allow_unauthenticated; }),
      IntSetting("retrieval.default_k",
                 [](Config& c) -> auto& { return c.retrieval.retriever.default_k; }, 1, 100000),
      IntSetting("retrieval.max_k", [](Config& c) -> auto& { return c.retrieval.retriever.max_k; }, 1,
                 100000),
      IntSetting("retrieval.max_sources",
                 [](Config& c) -> auto& { return c.retrieval.answers.max_sources; }, 0, 100000),
      BoolSetting("retrieval.mmr", [](Config& c) -> auto& { return c.retrieval.answers.mmr; }),
      DoubleSetting("retrieval.mmr_lambda",
                    [](Config& c) -> auto& { return c.retrieval.answers.mmr_lambda; }, 0.0, 1.0),
      DoubleSetting("retrieval.dedup_threshold",
                    [](Config& c) -> auto& { return c.retrieval.answers.dedup_threshold; }, 0.01, 1.0),
      IntSetting("retrieval.reserved_output_tokens",
                 [](Config& c) -> auto& { return c.retrieval.answers.reserved_output_tokens; }, 1,
                 1 << 20),
      MillisecondsSetting("retrieval.answer_deadline_ms",
                          [](Config& c) -> auto& { return c.retrieval.answers.answer_deadline; },
                          0, int64_t{86400} * 1000),
      IntSetting("retrieval.max_concurrent_answers",
                 [](Config& c) -> auto& { return c.retrieval.answers.max_concurrent_answers; }, 1,
                 100000),
      IntSetting("retrieval.query_cache_entries",
                 [](Config& c) -> auto& { return c.retrieval.retriever.query_cache_entries; }, 0,
                 1 << 24),
      FusionSetting("retrieval.hybrid_fusion"),
      DoubleSetting("retrieval.hybrid_alpha",
                    [](Config& c) -> auto& { return c.retrieval.retriever.hybrid_alpha; }, 0.0,
                    1.0),
      IntSetting("retrieval.text_feedback_docs",
                 [](Config& c) -> auto& { return c.retrieval.retriever.text_feedback.docs; }, 0,
                 100),
      IntSetting("retrieval.text_feedback_terms",
                 [](Config& c) -> auto& { return c.retrieval.retriever.text_feedback.terms; }, 1,
                 100),
      DoubleSetting(
          "retrieval.text_feedback_weight",
          [](Config& c) -> auto& { return c.retrieval.retriever.text_feedback.original_weight; },
          0.0, 1.0),
      NatsUrlsSetting("cluster.nats_urls"),
      IntSetting("cluster.replicas", [](Config& c) -> auto& { return c.cluster.log.replicas; }, 1,
                 5),
      MillisecondsSetting("cluster.request_timeout_ms",
                          [](Config& c) -> auto& { return c.cluster.log.request_timeout; }, 10,
                          600000),
      MillisecondsSetting("cluster.connect_timeout_ms",
                          [](Config& c) -> auto& { return c.cluster.connect_timeout; }, 0,
                          int64_t{3600} * 1000),
      MillisecondsSetting("cluster.duplicate_window_ms",
                          [](Config& c) -> auto& { return c.cluster.log.duplicate_window; },
                          1000, int64_t{86400} * 1000),
      StringSetting("cluster.pod_id", [](Config& c) -> auto& { return c.cluster.pod_id; }, true),
      IntSetting("cluster.shard_groups", [](Config& c) -> auto& { return c.cluster.shard_groups; },
                 1, 256),
      IntSetting("cluster.shard_group", [](Config& c) -> auto& { return c.cluster.shard_group; },
                 -1, 255),
      IntSetting("cluster.default_shards",
                 [](Config& c) -> auto& { return c.cluster.default_shards; }, 0, 256),
      StringSetting("cluster.advertise", [](Config& c) -> auto& { return c.cluster.advertise; },
                    true),
      PeersSetting("cluster.peers"),
      StringSetting("cluster.peer_key_env",
                    [](Config& c) -> auto& { return c.cluster.peer_key_env; }, true),
      IntSetting("cluster.ready_max_lag",
                 [](Config& c) -> auto& { return c.cluster.monitor.ready_max_lag; }, 0,
                 int64_t{1} << 40),
      MillisecondsSetting("cluster.bounded_staleness_ms",
                          [](Config& c) -> auto& { return c.cluster.monitor.bounded_staleness; },
                          0, 3600000),
      MillisecondsSetting("cluster.status_interval_ms",
                          [](Config& c) -> auto& { return c.cluster.monitor.status_interval; },
                          10, 60000),
      IntSetting("debug.open_delay_ms", [](Config& c) -> auto& { return c.debug.open_delay_ms; },
                 0, 600000),
      IntSetting("debug.apply_delay_ms", [](Config& c) -> auto& { return c.debug.apply_delay_ms; },
                 0, 10000),
  };
  // clang-format on
  return *settings;
}

const Setting* FindSetting(absl::string_view key) {
  for (const Setting& s : Settings()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The `models` section is structured (a list of deployments), so it is parsed whole by the
// catalog rather than through the table of scalar settings.
absl::Status ApplyModelsYaml(const YAML::Node& node, Config* config) {
  YAML::Emitter out;
  out << node;
  ASSIGN_OR_RETURN(config->models, models::ModelCatalog::FromYaml(out.c_str()));
  return absl::OkStatus();
}

// The catalog as YAML for --print-config, with API keys redacted: the output is meant to be
// pasted into bug reports.
void EmitModels(const models::ModelCatalog& catalog, YAML::Emitter& out) {
  out << YAML::Key << "models" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "default_model" << YAML::Value << catalog.default_model();
  out << YAML::Key << "deployments" << YAML::Value << YAML::BeginSeq;
  for (const models::ModelDeployment& d : catalog.deployments()) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << d.name;
    out << YAML::Key << "provider" << YAML::Value
        << std::string(models::ChatProviderName(d.provider));
    if (d.provider != models::ChatProvider::kLocal) {
      out << YAML::Key << "endpoint" << YAML::Value << d.endpoint;
      out << YAML::Key << "base_url" << YAML::Value << d.base_url;
      out << YAML::Key << "deployment" << YAML::Value << d.deployment;
      out << YAML::Key << "model" << YAML::Value << d.model;
      out << YAML::Key << "api_version" << YAML::Value << d.api_version;
      out << YAML::Key << "api_key" << YAML::Value
          << (d.api_key.empty() ? std::string() : std::string("<redacted>"));
      out << YAML::Key << "api_key_env" << YAML::Value << d.api_key_env;
      out << YAML::Key << "api_key_file" << YAML::Value << d.api_key_file;
    }
    out << YAML::Key << "family" << YAML::Value << d.family;
    out << YAML::Key << "context_window" << YAML::Value << d.context_window;
    out << YAML::Key << "max_output_tokens" << YAML::Value << d.max_output_tokens;
    out << YAML::Key << "price_per_1k_input" << YAML::Value << d.price_per_1k_input;
    out << YAML::Key << "price_per_1k_output" << YAML::Value << d.price_per_1k_output;
    out << YAML::Key << "encoding" << YAML::Value
        << (d.encoding == models::Encoding::kO200kBase ? "o200k_base" : "cl100k_base");
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace

bool IsLoopbackAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) {
    return true;
  }
  size_t colon = listen.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? listen : listen.substr(0, colon);
  return host == "localhost" || host == "[::1]" || absl::StartsWith(host, "127.");
}

index::Engine::Options Config::EngineOptions() const {
  index::Engine::Options o = engine;
  o.data_dir = storage.data_dir;
  return o;
}

absl::Status SetConfigValue(absl::string_view key, absl::string_view value, Config* config) {
  const Setting* s = FindSetting(key);
  if (s == nullptr) return absl::InvalidArgumentError(absl::StrCat(key, ": unknown setting"));
  return s->parse(value, config);
}

// ApplyYaml's walk over a loaded document; `where` is kept at the key being read so that the
// caller's guard can name it when yaml-cpp throws.
static absl::Status ApplyYamlRoot(const YAML::Node& root, Config* config, std::string* where) {
  for (const auto& section : root) {
    *where = "YAML (a section name)";
    std::string section_name = section.first.as<std::string>();
    *where = section_name;
    if (section_name == "embedders") {
      RETURN_IF_ERROR(ParseEmbeddersYaml(section.second, &config->embedders));
      continue;
    }
    if (section_name == "models") {
      RETURN_IF_ERROR(ApplyModelsYaml(section.second, config));
      continue;
    }
    if (!section.second.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(section_name, ": expected a mapping of settings"));
    }
    for (const auto& entry : section.second) {
      *where = absl::StrCat(section_name, " (a setting name)");
      std::string key = absl::StrCat(section_name, ".", entry.first.as<std::string>());
      *where = key;
      if (key == "auth.api_keys") {
        RETURN_IF_ERROR(ParseApiKeysYaml(entry.second, &config->auth.api_keys));
        continue;
      }
      if (entry.second.IsMap()) {  // a sub-section such as server.tls
        for (const auto& sub : entry.second) {
          *where = absl::StrCat(key, " (a setting name)");
          std::string sub_key = absl::StrCat(key, ".", sub.first.as<std::string>());
          *where = sub_key;
          if (FindSetting(sub_key) == nullptr || !sub.second.IsScalar()) {
            return absl::InvalidArgumentError(absl::StrCat(sub_key, ": unknown setting"));
          }
          RETURN_IF_ERROR(SetConfigValue(sub_key, sub.second.Scalar(), config));
        }
        continue;
      }
      if (FindSetting(key) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": unknown setting"));
      }
      if ((key == "cluster.nats_urls" || key == "cluster.peers") && entry.second.IsSequence()) {
        std::vector<std::string> urls;
        for (const auto& u : entry.second) {
          if (!u.IsScalar()) return absl::InvalidArgumentError(key + ": expected URLs");
          urls.push_back(u.Scalar());
        }
        RETURN_IF_ERROR(SetConfigValue(key, absl::StrJoin(urls, ","), config));
        continue;
      }
      if (!entry.second.IsScalar()) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": expected a single value"));
      }
      RETURN_IF_ERROR(SetConfigValue(key, entry.second.Scalar(), config));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyYaml(absl::string_view yaml, Config* config) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("YAML: ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file changes nothing
  if (!root.IsMap()) return absl::InvalidArgumentError("YAML: expected a mapping of sections");
  // The one guard of the walk: yaml-cpp throws on a node of another shape than asked for (a
  // map where a string is expected, as a key or a list item); that is a configuration error
  // naming the key being read, never an abort.
  std::string where = "YAML";
  try {
    return ApplyYamlRoot(root, config, &where);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": malformed value (", e.msg, " at line ", e.mark.line + 1, ")"));
  }
}

absl::Status ApplyEnvironment(const std::vector<std::string>& environment, Config* config) {
  constexpr absl::string_view kPrefix = "RAGD_";
  for (const std::string& entry : environment) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::string_view name = kv.first;
    if (!absl::StartsWith(name, kPrefix)) continue;
    absl::string_view rest = name.substr(kPrefix.size());
    size_t sep = rest.find("__");
    if (sep == absl::string_view::npos) continue;
    std::string key =
        absl::AsciiStrToLower(absl::StrCat(rest.substr(0, sep), ".", rest.substr(sep + 2)));
    // RAGD_SERVER__TLS__CERT_FILE: a sub-section's key.
    key = absl::StrReplaceAll(key, {{"__", "."}});
    if (FindSetting(key) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": unknown setting ", key));
    }
    absl::Status s = SetConfigValue(key, kv.second, config);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", s.message()));
  }
  return absl::OkStatus();
}

std::string ToYaml(const Config& config) {
  // Emitted by hand in table order: sections stay grouped and values are quoted only when
  // YAML would misread them.
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const Setting& s : Settings()) {
    absl::string_view key = s.key;
    size_t dot = key.find('.');
    std::string this_section(key.substr(0, dot));
    if (this_section != section) {
      if (section == "auth") EmitApiKeysYaml(config.auth.api_keys, out);
      if (!section.empty()) out << YAML::EndMap;
      section = this_section;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    }
    out << YAML::Key << std::string(key.substr(dot + 1)) << YAML::Value << s.format(config);
  }
  if (section == "auth") EmitApiKeysYaml(config.auth.api_keys, out);
  if (!section.empty()) out << YAML::EndMap;
  EmitEmbeddersYaml(config.embedders, out);
  EmitModels(config.models, out);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ProcessEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

CommandLine ParseCommandLine(int argc, const char* const* argv,
                             const std::vector<std::string>& environment, std::ostream& out,
                             std::ostream& err) {
  CommandLine result;
  CLI::App app("ragd: vector collections over gRPC, persisted in RocksDB", "ragd");
  std::string config_file;
  bool print_config = false;
  // Flags are kept as text and go through the same parser as YAML and the environment, so
  // that every source gives the same messages.
  std::map<std::string, std::string> flag_values;
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--listen", "server.listen"},
      {"--data-dir", "storage.data_dir"},
      {"--max-message-bytes", "server.max_message_bytes"},
      {"--workers", "server.workers"},
      {"--shutdown-grace-seconds", "server.shutdown_grace_seconds"},
      {"--log-level", "log.level"},
      {"--port-file", "server.port_file"},
      {"--log-format", "log.format"},
      {"--admin-listen", "server.admin_listen"},
      {"--admin-port-file", "server.admin_port_file"},
      {"--http-listen", "server.http_listen"},
      {"--http-port-file", "server.http_port_file"},
      {"--restore-from", "storage.restore_from"},
  };
  std::map<std::string, CLI::Option*> options;
  for (const auto& [flag, key] : flags) {
    options[key] = app.add_option(
        flag, flag_values[key],
        absl::StrCat("sets ", key, " (default: ", FindSetting(key)->format(Config{}), ")"));
  }
  app.add_option("--config", config_file, "YAML file of settings (see --print-config)");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    err << "ragd: " << e.what() << "\n";
    result.exit_code = 2;
    return result;
  }

  auto fail = [&](const absl::Status& s) {
    err << "ragd: configuration error: " << s.message() << "\n";
    result.exit_code = 2;
    return result;
  };
  Config config;
  if (!config_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(config_file);
    if (!text.ok()) return fail(text.status());
    absl::Status s = ApplyYaml(*text, &config);
    if (!s.ok())
      return fail(absl::InvalidArgumentError(absl::StrCat(config_file, ": ", s.message())));
  }
  if (absl::Status s = ApplyEnvironment(environment, &config); !s.ok()) return fail(s);
  for (const auto& [flag, key] : flags) {
    if (options[key]->count() == 0) continue;
    absl::Status s = SetConfigValue(key, flag_values[key], &config);
    if (!s.ok()) return fail(absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message())));
  }
  if (!print_config) {
    if (absl::Status s = ResolveApiKeys(environment, &config.auth.api_keys); !s.ok()) {
      return fail(s);
    }
    if (!config.cluster.peer_key_env.empty()) {
      const std::string prefix = config.cluster.peer_key_env + "=";
      for (const std::string& entry : environment) {
        if (absl::StartsWith(entry, prefix)) config.cluster.peer_key = entry.substr(prefix.size());
      }
      if (config.cluster.peer_key.empty()) {
        return fail(absl::InvalidArgumentError(absl::StrCat(
            "cluster.peer_key_env: variable ", config.cluster.peer_key_env, " is unset or empty")));
      }
    }
    // Pods of a sharded cluster call each other's Shards service, which checks API keys like
    // the public API: without a key to send, every fanned-out read would be UNAUTHENTICATED.
    if (config.cluster.enabled() && config.cluster.shard_groups > 1 &&
        !config.auth.api_keys.empty() && config.cluster.peer_key.empty()) {
      return fail(absl::FailedPreconditionError(
          "cluster.shard_groups > 1 with auth.api_keys: set cluster.peer_key_env to a variable "
          "holding one of the API keys (role reader or above, every collection) for the pods' "
          "calls to each other"));
    }
    if (config.auth.api_keys.empty() && !config.auth.allow_unauthenticated &&
        !config.server.http_listen.empty() && !IsLoopbackAddress(config.server.http_listen)) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "server.http_listen is ", config.server.http_listen,
          " (not loopback) and no API keys are configured: anyone who can reach it could use "
          "every collection and model. Configure auth.api_keys, listen on 127.0.0.1, set "
          "server.http_listen: \"\" to disable the HTTP API, or set "
          "auth.allow_unauthenticated: true if a network policy protects the port")));
    }
    if (config.auth.api_keys.empty() && !config.auth.allow_unauthenticated &&
        !IsLoopbackAddress(config.server.listen)) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "server.listen is ", config.server.listen,
          " (not loopback) and no API keys are configured: anyone who can reach it could read "
          "and delete every collection. Configure auth.api_keys, listen on 127.0.0.1, or set "
          "auth.allow_unauthenticated: true (RAGD_AUTH__ALLOW_UNAUTHENTICATED=true) if a "
          "network policy protects the port")));
    }
    if (config.server.tls.cert_file.empty() != config.server.tls.key_file.empty() ||
        (!config.server.tls.client_ca_file.empty() && config.server.tls.cert_file.empty())) {
      return fail(absl::InvalidArgumentError(
          "server.tls: set both cert_file and key_file (client_ca_file needs them too)"));
    }
    if (config.server.http_tls.cert_file.empty() != config.server.http_tls.key_file.empty()) {
      return fail(absl::InvalidArgumentError(
          "server.http_tls: set both cert_file and key_file, or neither (plain HTTP)"));
    }
    if (config.server.admin_tls.cert_file.empty() != config.server.admin_tls.key_file.empty()) {
      return fail(absl::InvalidArgumentError(
          "server.admin_tls: set both cert_file and key_file, or neither (plain HTTP)"));
    }
    if (config.cluster.enabled()) {
      if (absl::Status s = config.cluster.log.Validate(); !s.ok()) {
        return fail(absl::InvalidArgumentError(absl::StrCat("cluster.", s.message())));
      }
      if (config.cluster.shard_group >= config.cluster.shard_groups) {
        return fail(absl::InvalidArgumentError(absl::StrCat(
            "cluster.shard_group: must be below cluster.shard_groups (",
            config.cluster.shard_groups, "), got ", config.cluster.shard_group)));
      }
      if (config.cluster.default_shards != 0 &&
          config.cluster.default_shards < config.cluster.shard_groups) {
        return fail(absl::InvalidArgumentError(absl::StrCat(
            "cluster.default_shards: must be 0 (= cluster.shard_groups) or at least "
            "cluster.shard_groups (",
            config.cluster.shard_groups, "): groups beyond a collection's shard count hold "
            "nothing of it; got ", config.cluster.default_shards)));
      }
    }
  }
  // models/ reads no environment and no files: the keys the configuration names by variable or
  // file are read through this process's reader when a client is first built.
  auto secrets = std::make_shared<ProcessSecrets>(environment);
  for (rag::NamedEmbedderConfig& e : config.embedders) e.config.secrets = secrets;
  config.models.SetSecretReader(secrets);
  result.config = std::move(config);
  if (print_config) {
    out << ToYaml(result.config);
    result.exit_code = 0;
  }
  return result;
}

}  // namespace ragd::services
