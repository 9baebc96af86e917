// Storage encodings and the RocksDB store: round trips, ordering, and that corrupt bytes are
// DATA_LOSS rather than a crash or a silent misread.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "index/storage/encoding.h"
#include "index/storage/store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index::storage {
namespace {

PointRecord SampleRecord() {
  PointRecord r;
  r.label = 1234567890123ull;
  r.text = "임베딩은 텍스트를 벡터로 바꿉니다. Embeddings map text to vectors.";
  r.document_id = "docs/ai-models.ko.md";
  r.metadata["lang"] = std::string("ko");
  r.metadata["year"] = int64_t{-2024};
  r.metadata["score"] = 0.125;
  r.metadata["draft"] = true;
  r.metadata["tags"] = std::vector<std::string>{"rag", "임베딩", ""};
  r.metadata["empty"] = std::string();
  return r;
}

TEST(EncodingTest, PointRecordRoundTrip) {
  const PointRecord r = SampleRecord();
  ASSERT_OK_AND_ASSIGN(PointRecord back, DecodePointRecord(EncodePointRecord(r)));
  EXPECT_EQ(back.label, r.label);
  EXPECT_EQ(back.text, r.text);
  EXPECT_EQ(back.document_id, r.document_id);
  EXPECT_EQ(back.metadata, r.metadata);
}

TEST(EncodingTest, PointRecordEncodingIsDeterministic) {
  EXPECT_EQ(EncodePointRecord(SampleRecord()), EncodePointRecord(SampleRecord()));
}

TEST(EncodingTest, EveryTruncationIsDataLoss) {
  const std::string bytes = EncodePointRecord(SampleRecord());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodePointRecord(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(DecodePointRecord(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(EncodingTest, UnknownFormatAndTypeAreDataLoss) {
  std::string bytes = EncodePointRecord(SampleRecord());
  bytes[0] = 7;
  EXPECT_EQ(DecodePointRecord(bytes).status().code(), absl::StatusCode::kDataLoss);
  // A huge metadata count must be rejected before looping or allocating.
  std::string evil;
  evil.push_back(1);
  PutVarint64(&evil, 1);
  PutLengthPrefixed(&evil, "");
  PutLengthPrefixed(&evil, "");
  PutVarint64(&evil, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(DecodePointRecord(evil).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EncodingTest, KeysOrderByCollectionThenShardThenLabel) {
  EXPECT_LT(VectorKey({1, 0}, 500), VectorKey({1, 1}, 0));
  EXPECT_LT(VectorKey({1, 65535}, 9), VectorKey({2, 0}, 0));
  EXPECT_LT(VectorKey({1, 0}, 255), VectorKey({1, 0}, 256));  // big-endian, not bytewise-LE
  EXPECT_LT(CollectionBegin(3), PointKey({3, 0}, "a"));
  EXPECT_LT(PointKey({3, 7}, "\xff\xff"), CollectionEnd(3));
  EXPECT_LT(PointKey({3, 7}, "\xff\xff"), ShardEnd({3, 7}));
  EXPECT_EQ(ShardEnd({3, 7}), PointKey({3, 8}, ""));  // exclusive end = next shard start
  EXPECT_EQ(ShardEnd({3, 65535}), CollectionEnd(3));
}

TEST(EncodingTest, VectorRoundTripAndSizeCheck) {
  std::vector<float> v = {1.5f, -0.0f, std::numeric_limits<float>::min(), 3e38f};
  std::vector<float> back;
  ASSERT_OK(DecodeVector(EncodeVector(v), v.size(), &back));
  EXPECT_EQ(back, v);
  EXPECT_EQ(DecodeVector(EncodeVector(v), 3, &back).code(), absl::StatusCode::kDataLoss);
}

TEST(EncodingTest, SnapshotHeaderRoundTripAndTamperDetection) {
  SnapshotHeader h;
  h.spec_fingerprint = 42;
  h.generation = 3;
  h.payload_bytes = 1 << 20;
  h.chunk_bytes = 4096;
  h.payload_checksum = 99;
  h.next_label = 1000;
  h.sequence = 77;
  const std::string bytes = EncodeSnapshotHeader(h);
  ASSERT_OK_AND_ASSIGN(SnapshotHeader back, DecodeSnapshotHeader(bytes));
  EXPECT_EQ(back.generation, 3u);
  EXPECT_EQ(back.payload_bytes, 1u << 20);
  EXPECT_EQ(back.next_label, 1000u);
  EXPECT_EQ(back.sequence, 77u);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string t = bytes;
    t[i] ^= 0x01;
    EXPECT_FALSE(DecodeSnapshotHeader(t).ok()) << "flipped byte " << i;
  }
  EXPECT_FALSE(DecodeSnapshotHeader(bytes.substr(1)).ok());
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Store::Options o;
    o.path = dir_.str() + "/db";
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(o));
  }
  ragd::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, BatchIsVisibleAndSurvivesReopen) {
  Batch b(store_.get());
  PointRecord r = SampleRecord();
  b.PutPoint({1, 0}, "p1", r);
  std::vector<float> v = {1, 2, 3};
  b.PutVector({1, 0}, r.label, v);
  b.PutMeta("k", "v");
  b.PutCatalog("coll", "record");
  EXPECT_EQ(b.count(), 4u);
  ASSERT_OK(store_->Commit(b));
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto got, store_->GetPoint({1, 0}, "p1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->text, r.text);
  ASSERT_OK_AND_ASSIGN(auto vec, store_->GetVector({1, 0}, r.label, 3));
  ASSERT_TRUE(vec.has_value());
  EXPECT_EQ(*vec, v);
  ASSERT_OK_AND_ASSIGN(auto meta, store_->GetMeta("k"));
  EXPECT_EQ(meta.value_or(""), "v");
  ASSERT_OK_AND_ASSIGN(auto catalog, store_->ListCatalog());
  ASSERT_EQ(catalog.size(), 1u);
  EXPECT_EQ(catalog[0].first, "coll");
  ASSERT_OK_AND_ASSIGN(auto missing, store_->GetPoint({1, 1}, "p1"));
  EXPECT_FALSE(missing.has_value());
}

TEST_F(StoreTest, ScansStayInsideTheirShardAndAreOrdered) {
  Batch b(store_.get());
  std::vector<float> v = {0.5f};
  for (uint16_t shard = 0; shard < 3; ++shard) {
    for (Label l : {300, 2, 70000}) {
      b.PutVector({5, shard}, l, v);
      b.PutPoint({5, shard}, "id" + std::to_string(l), PointRecord{l, "", "", {}});
    }
  }
  b.PutVector({4, 0}, 1, v);
  b.PutVector({6, 0}, 1, v);
  ASSERT_OK(store_->Commit(b));
  std::vector<Label> labels;
  ASSERT_OK(store_->ScanVectors({5, 1}, 1, [&](Label l, std::span<const float>) {
    labels.push_back(l);
    return absl::OkStatus();
  }));
  EXPECT_EQ(labels, (std::vector<Label>{2, 300, 70000}));
  std::vector<std::string> ids;
  ASSERT_OK(store_->ScanPoints({5, 2}, [&](std::string_view id, PointRecord&&) {
    ids.emplace_back(id);
    return absl::OkStatus();
  }));
  EXPECT_EQ(ids, (std::vector<std::string>{"id2", "id300", "id70000"}));
}

TEST_F(StoreTest, ReadViewIsAPointInTime) {
  std::vector<float> v = {1};
  {
    Batch b(store_.get());
    b.PutVector({1, 0}, 1, v);
    ASSERT_OK(store_->Commit(b));
  }
  auto view = store_->NewReadView();
  {
    Batch b(store_.get());
    b.PutVector({1, 0}, 2, v);
    b.DeleteVector({1, 0}, 1);
    ASSERT_OK(store_->Commit(b));
  }
  std::vector<Label> seen;
  ASSERT_OK(store_->ScanVectors(
      {1, 0}, 1,
      [&](Label l, std::span<const float>) {
        seen.push_back(l);
        return absl::OkStatus();
      },
      view.get()));
  EXPECT_EQ(seen, std::vector<Label>{1});
}

TEST_F(StoreTest, DropCollectionRemovesOnlyThatCollection) {
  Batch b(store_.get());
  std::vector<float> v = {1};
  b.PutPoint({7, 0}, "a", PointRecord{1, "t", "", {}});
  b.PutVector({7, 0}, 1, v);
  b.PutPoint({8, 0}, "a", PointRecord{1, "t", "", {}});
  ASSERT_OK(store_->Commit(b));
  ASSERT_OK(store_->WriteSnapshot({7, 0}, SnapshotHeader{}, "snapshot bytes"));
  Batch drop(store_.get());
  drop.DropCollection(7);
  ASSERT_OK(store_->Commit(drop));
  ASSERT_OK(store_->CompactCollection(7));
  ASSERT_OK_AND_ASSIGN(auto gone, store_->GetPoint({7, 0}, "a"));
  EXPECT_FALSE(gone.has_value());
  SnapshotHeader h;
  EXPECT_EQ(store_->ReadSnapshot({7, 0}, &h).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto kept, store_->GetPoint({8, 0}, "a"));
  EXPECT_TRUE(kept.has_value());
  EXPECT_LT(store_->ApproximateBytes(7), 1024u);
}

TEST_F(StoreTest, SnapshotRoundTripAcrossChunksAndGenerations) {
  // 9 MiB spans three 4 MiB chunks.
  std::string payload(9u << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
  SnapshotHeader in;
  in.next_label = 10;
  in.sequence = 5;
  ASSERT_OK(store_->WriteSnapshot({1, 0}, in, payload));
  ASSERT_OK(store_->WriteSnapshot({1, 0}, in, payload.substr(0, 100)));
  Reopen();
  SnapshotHeader h;
  ASSERT_OK_AND_ASSIGN(std::string back, store_->ReadSnapshot({1, 0}, &h));
  EXPECT_EQ(back, payload.substr(0, 100));
  EXPECT_EQ(h.generation, 2u);
  EXPECT_EQ(h.next_label, 10u);
  ASSERT_OK(store_->WriteSnapshot({1, 0}, in, payload));
  ASSERT_OK_AND_ASSIGN(back, store_->ReadSnapshot({1, 0}, &h));
  EXPECT_EQ(back, payload);
  // An empty payload is a valid snapshot too.
  ASSERT_OK(store_->WriteSnapshot({2, 0}, in, ""));
  ASSERT_OK_AND_ASSIGN(back, store_->ReadSnapshot({2, 0}, &h));
  EXPECT_TRUE(back.empty());
}

// Snapshots are ingested as SST files of their own: a new generation's file replaces the old
// one's on disk at once (no 2x space until a compaction), and a file a crash left half-written
// before its ingestion is removed by the next Open.
TEST_F(StoreTest, SnapshotGenerationsDoNotAccumulateAndStrayFilesGo) {
  std::string payload(6u << 20, '\x5a');
  SnapshotHeader in;
  auto sst_bytes = [&] {
    uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.str() + "/db")) {
      if (e.path().extension() == ".sst") total += e.file_size();
    }
    return total;
  };
  for (int i = 0; i < 4; ++i) ASSERT_OK(store_->WriteSnapshot({3, 1}, in, payload));
  EXPECT_GE(sst_bytes(), payload.size());
  EXPECT_LT(sst_bytes(), 2 * payload.size());  // one generation on disk, not four
  const std::string stray = dir_.str() + "/db/ragd-snapshot-3-1-9-0.sst";
  std::ofstream(stray) << "half written";
  Reopen();
  EXPECT_FALSE(std::filesystem::exists(stray));
  SnapshotHeader h;
  ASSERT_OK_AND_ASSIGN(std::string back, store_->ReadSnapshot({3, 1}, &h));
  EXPECT_EQ(back, payload);
  EXPECT_EQ(h.generation, 4u);
}

// Reaches under the Store to damage a snapshot the way a disk or a bug would.
void CorruptSnapshotChunk(const std::string& path, ShardKey k, uint64_t generation,
                          const std::string& bytes, bool erase) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name :
       {"default", "catalog", "points", "vectors", "snapshots", "aux", "lexical"}) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &db).ok());
  const std::string key = SnapshotChunkKey(k, generation, 0);
  if (erase) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[4], key).ok());
  } else {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[4], key, bytes).ok());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST_F(StoreTest, CorruptOrMissingChunkIsDataLoss) {
  const std::string payload(1000, 'x');
  ASSERT_OK(store_->WriteSnapshot({1, 0}, SnapshotHeader{}, payload));
  store_.reset();
  CorruptSnapshotChunk(dir_.str() + "/db", {1, 0}, 1, std::string(1000, 'y'), false);
  Reopen();
  SnapshotHeader h;
  EXPECT_EQ(store_->ReadSnapshot({1, 0}, &h).status().code(), absl::StatusCode::kDataLoss);
  store_.reset();
  CorruptSnapshotChunk(dir_.str() + "/db", {1, 0}, 1, "", true);
  Reopen();
  EXPECT_EQ(store_->ReadSnapshot({1, 0}, &h).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ragd::index::storage
