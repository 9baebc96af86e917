// The log entry encoding: every engine value survives a round trip, and no input, however
// damaged, crashes the decoder: it answers DATA_LOSS.

#include "cluster/log_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>

#include "tests/testing/status_matchers.h"

namespace ragd::cluster {
namespace {

index::Point FullPoint() {
  index::Point p;
  p.id = "doc-1#0";
  p.vector = {0.5f, -1.25f, 3.0f, 1e-30f};
  p.text = "héllo wörld";
  p.document_id = "doc-1";
  p.metadata["s"] = std::string("x");
  p.metadata["i"] = int64_t{-42};
  p.metadata["d"] = 2.5;
  p.metadata["b"] = true;
  p.metadata["l"] = std::vector<std::string>{"a", "b"};
  return p;
}

TEST(LogCodecTest, PointWriteRoundTrips) {
  LogEntry e;
  e.request_id = "req-1";
  PointWrite w;
  w.upserts.push_back(FullPoint());
  w.deletes = {"old-1", "old-2"};
  w.aux.push_back({"embedding-cache", std::string("k\0ey", 4), "value"});
  e.op = w;
  ASSERT_OK_AND_ASSIGN(std::string bytes, EncodeLogEntry(e));
  ASSERT_OK_AND_ASSIGN(LogEntry d, DecodeLogEntry(bytes));
  EXPECT_EQ(d.request_id, "req-1");
  auto* got = std::get_if<PointWrite>(&d.op);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->upserts.size(), 1u);
  const index::Point& p = got->upserts[0];
  const index::Point want = FullPoint();
  EXPECT_EQ(p.id, want.id);
  EXPECT_EQ(p.vector, want.vector);
  EXPECT_EQ(p.text, want.text);
  EXPECT_EQ(p.document_id, want.document_id);
  EXPECT_EQ(p.metadata, want.metadata);
  EXPECT_EQ(got->deletes, w.deletes);
  ASSERT_EQ(got->aux.size(), 1u);
  EXPECT_EQ(got->aux[0].ns, "embedding-cache");
  EXPECT_EQ(got->aux[0].key, std::string("k\0ey", 4));
  EXPECT_EQ(got->aux[0].value, "value");
}

TEST(LogCodecTest, CatalogEntriesRoundTrip) {
  index::CollectionSpec spec;
  spec.name = "docs";
  spec.dimension = 1536;
  spec.metric = index::Metric::kDot;
  spec.index.kind = index::IndexKind::kFaiss;
  spec.index.faiss_factory = "HNSW32";
  spec.index.m = 32;
  spec.index.ef_construction = 100;
  spec.index.ef = 64;
  spec.index.nprobe = 8;
  spec.shards = 4;
  spec.attributes = R"({"embedder":"x"})";
  ASSERT_OK_AND_ASSIGN(std::string bytes, EncodeLogEntry((LogEntry{"r", CreateCollection{spec}})));
  ASSERT_OK_AND_ASSIGN(LogEntry d, DecodeLogEntry(bytes));
  auto* c = std::get_if<CreateCollection>(&d.op);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->spec.name, "docs");
  EXPECT_EQ(c->spec.dimension, 1536u);
  EXPECT_EQ(c->spec.metric, index::Metric::kDot);
  EXPECT_EQ(c->spec.index.kind, index::IndexKind::kFaiss);
  EXPECT_EQ(c->spec.index.faiss_factory, "HNSW32");
  EXPECT_EQ(c->spec.index.m, 32);
  EXPECT_EQ(c->spec.index.ef_construction, 100);
  EXPECT_EQ(c->spec.index.ef, 64);
  EXPECT_EQ(c->spec.index.nprobe, 8);
  EXPECT_EQ(c->spec.shards, 4u);
  EXPECT_EQ(c->spec.attributes, spec.attributes);


  // The lexical index and quantization travel too (they were lost before: a cluster
  // collection had no BM25 index).
  spec.index.kind = index::IndexKind::kHnsw;
  spec.index.quantization = index::Quantization::kInt8;
  spec.lexical.enabled = true;
  spec.lexical.analyzer = index::lexical::AnalyzerKind::kKorean;
  spec.lexical.k1 = 1.5;
  spec.lexical.b = 0.5;
  ASSERT_OK_AND_ASSIGN(bytes, EncodeLogEntry((LogEntry{"r1", CreateCollection{spec}})));
  ASSERT_OK_AND_ASSIGN(d, DecodeLogEntry(bytes));
  c = std::get_if<CreateCollection>(&d.op);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->spec.index.quantization, index::Quantization::kInt8);
  EXPECT_TRUE(c->spec.lexical.enabled);
  EXPECT_EQ(c->spec.lexical.analyzer, index::lexical::AnalyzerKind::kKorean);
  EXPECT_EQ(c->spec.lexical.k1, 1.5);
  EXPECT_EQ(c->spec.lexical.b, 0.5);

  ASSERT_OK_AND_ASSIGN(bytes, EncodeLogEntry((LogEntry{"r2", DeleteCollection{"docs"}})));
  ASSERT_OK_AND_ASSIGN(d, DecodeLogEntry(bytes));
  auto* del = std::get_if<DeleteCollection>(&d.op);
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(del->name, "docs");
}

TEST(LogCodecTest, MalformedInputIsDataLossNeverACrash) {
  EXPECT_EQ(DecodeLogEntry("").status().code(), absl::StatusCode::kDataLoss);  // no operation
  EXPECT_EQ(DecodeLogEntry("not a protobuf \xff\xff\xff").status().code(),
            absl::StatusCode::kDataLoss);
  LogEntry e;
  PointWrite w;
  w.upserts.push_back(FullPoint());
  e.op = w;
  ASSERT_OK_AND_ASSIGN(std::string good, EncodeLogEntry(e));
  // Every truncation and many random corruptions of a valid entry: OK or DATA_LOSS.
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = DecodeLogEntry(std::string_view(good).substr(0, n));
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto r = DecodeLogEntry(bad);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    }
    std::string noise(rng() % 64, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    auto r2 = DecodeLogEntry(noise);
    if (!r2.ok()) {
      EXPECT_EQ(r2.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

}  // namespace
}  // namespace ragd::cluster
