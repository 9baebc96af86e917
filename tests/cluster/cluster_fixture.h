#pragma once
// Shared by the cluster tests: a real nats-server on 127.0.0.1 (JetStream, its own store),
// engines on their own data directories, and log entries built from plain values.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cluster/jetstream_log.h"
#include "cluster/log_codec.h"
#include "index/engine/engine.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::cluster {

inline constexpr uint32_t kDim = 8;

// A publish acknowledgement or JetStream API reply normally takes milliseconds here, but with
// ctest -j2 on 2 cores (a neighbour building indexes or fsyncing RocksDB) nats-server can be
// starved for seconds; a 2 s bound then failed a test that only wanted the answer. Tests that
// time a failure (a server killed, a leader lost) pass a short `request_timeout` of their own,
// since a publish in flight may take that long before the writer's deadline is looked at.
inline constexpr std::chrono::milliseconds kRequestTimeout = std::chrono::seconds(15);

inline JetStreamLogOptions LogOptions(std::vector<std::string> urls,
                                      std::chrono::milliseconds request_timeout = kRequestTimeout) {
  JetStreamLogOptions o;
  o.urls = std::move(urls);
  o.request_timeout = request_timeout;
  o.connect_timeout = std::chrono::seconds(5);
  return o;
}

inline index::Engine::Options EngineOptions(const std::string& dir) {
  index::Engine::Options o;
  o.data_dir = dir;
  o.snapshot_interval_seconds = 0;
  o.idle_flush_seconds = 0;
  o.block_cache_bytes = 8u << 20;
  return o;
}

inline index::CollectionSpec Spec(const std::string& name) {
  index::CollectionSpec s;
  s.name = name;
  s.dimension = kDim;
  s.metric = index::Metric::kL2;  // vectors stored as given: comparable bit for bit
  s.index.kind = index::IndexKind::kHnsw;
  s.shards = 2;
  return s;
}

inline index::Point MakePoint(const std::string& id, int version) {
  index::Point p;
  p.id = id;
  p.vector.resize(kDim);
  for (uint32_t d = 0; d < kDim; ++d) {
    p.vector[d] = static_cast<float>((id.size() * 7 + d * 3 + version * 11) % 17) - 8.0f;
  }
  p.vector[version % kDim] += 0.5f;
  p.text = id + " v" + std::to_string(version);
  p.document_id = "doc-" + id;
  p.metadata["version"] = int64_t{version};
  return p;
}

inline std::string Encode(const LogEntry& e) {
  auto r = EncodeLogEntry(e);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::string();
}

inline std::string UpsertEntry(std::vector<index::Point> points,
                               std::vector<std::string> deletes = {}) {
  PointWrite w;
  w.upserts = std::move(points);
  w.deletes = std::move(deletes);
  return Encode(LogEntry{"test", std::move(w)});
}

inline std::string CreateEntry(const index::CollectionSpec& spec) {
  return Encode(LogEntry{"test", CreateCollection{spec}});
}

// One nats-server (JetStream) per test, on free ports, in the test's temp dir.
class NatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::NatsServer::Options o;
    o.dir = (tmp_.path() / "nats").string();
    auto s = testing::NatsServer::Start(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    nats_ = *std::move(s);
  }

  std::unique_ptr<JetStreamLog> Connect(
      std::chrono::milliseconds request_timeout = kRequestTimeout) {
    auto log = JetStreamLog::Connect(LogOptions({nats_->url()}, request_timeout));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  std::unique_ptr<index::Engine> OpenEngine(const std::string& name) {
    auto e = index::Engine::Open(EngineOptions((tmp_.path() / name).string()));
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::NatsServer> nats_;
};

}  // namespace ragd::cluster
