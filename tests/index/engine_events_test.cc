// Engine::Options::on_event: one event per snapshot save (per changed collection), background
// compaction, backup and idle memtable flush, with its collection, a duration and the outcome.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/engine/engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

constexpr uint32_t kDim = 8;

class Recorder {
 public:
  EngineEventCallback Callback() {
    return [this](const EngineEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }
  // The events of `kind` so far.
  std::vector<EngineEvent> Of(EngineEventKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<EngineEvent> out;
    for (const EngineEvent& e : events_) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<EngineEvent> events_;
};

std::vector<Point> Points(int n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<Point> points(n);
  for (int i = 0; i < n; ++i) {
    points[i].id = "p" + std::to_string(i);
    points[i].vector.resize(kDim);
    for (float& x : points[i].vector) x = normal(rng);
  }
  return points;
}

CollectionSpec Spec(const std::string& name) {
  CollectionSpec s;
  s.name = name;
  s.dimension = kDim;
  return s;
}

TEST(EngineEventsTest, SnapshotsCompactionsAndBackupsAreReported) {
  ragd::testing::TempDir dir;
  Recorder recorder;
  Engine::Options o;
  o.data_dir = (dir.path() / "data").string();
  o.snapshot_interval_seconds = 0;
  o.compaction_min_removed = 100;
  o.on_event = recorder.Callback();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open(o));
  ASSERT_OK(engine->CreateCollection(Spec("kb")));
  ASSERT_OK(engine->CreateCollection(Spec("idle")));
  ASSERT_OK(engine->Upsert("kb", Points(600)));

  // Only the collection that changed saves a snapshot; nothing changed, nothing reported.
  ASSERT_OK(engine->SaveSnapshots());
  std::vector<EngineEvent> snapshots = recorder.Of(EngineEventKind::kSnapshot);
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].collection, "kb");
  EXPECT_TRUE(snapshots[0].ok);
  EXPECT_GE(snapshots[0].seconds, 0);
  ASSERT_OK(engine->SaveSnapshots());
  EXPECT_EQ(recorder.Of(EngineEventKind::kSnapshot).size(), 1u);
  EXPECT_TRUE(recorder.Of(EngineEventKind::kCompaction).empty());

  // 300 removed of 600: the background rebuild runs and reports.
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back("p" + std::to_string(i));
  ASSERT_OK(engine->Delete("kb", ids));
  engine->WaitForCompactions();
  std::vector<EngineEvent> compactions = recorder.Of(EngineEventKind::kCompaction);
  ASSERT_EQ(compactions.size(), 1u);
  EXPECT_EQ(compactions[0].collection, "kb");
  EXPECT_TRUE(compactions[0].ok);
  EXPECT_GT(compactions[0].seconds, 0);

  // A backup (fresh snapshots first), then refused ones.
  ragd::testing::TempDir backups;
  ASSERT_OK(engine->CreateBackup((backups.path() / "b1").string()));
  std::vector<EngineEvent> done = recorder.Of(EngineEventKind::kBackup);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].ok);
  EXPECT_EQ(done[0].collection, "");
  EXPECT_GT(done[0].seconds, 0);
  EXPECT_EQ(recorder.Of(EngineEventKind::kSnapshot).size(), 2u);  // kb changed since
  EXPECT_FALSE(engine->CreateBackup("relative/dir").ok());
  std::filesystem::create_directories(backups.path() / "busy" / "db");
  EXPECT_FALSE(engine->CreateBackup((backups.path() / "busy").string()).ok());
  done = recorder.Of(EngineEventKind::kBackup);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_FALSE(done[1].ok);
  EXPECT_FALSE(done[2].ok);

  // Close saves what changed since: the snapshot of Close is reported too.
  ASSERT_OK(engine->Upsert("idle", Points(3)));
  ASSERT_OK(engine->Close());
  snapshots = recorder.Of(EngineEventKind::kSnapshot);
  ASSERT_EQ(snapshots.size(), 3u);
  EXPECT_EQ(snapshots[2].collection, "idle");
}

// Waits (bounded) until `recorder` has `n` events of `kind`; returns how many it has.
size_t WaitForEvents(Recorder& recorder, EngineEventKind kind, size_t n, double seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (recorder.Of(kind).size() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return recorder.Of(kind).size();
}

TEST(EngineEventsTest, MemtablesAreFlushedOnceWritesStop) {
  ragd::testing::TempDir dir;
  Recorder recorder;
  Engine::Options o;
  o.data_dir = (dir.path() / "data").string();
  o.snapshot_interval_seconds = 0;
  o.idle_flush_seconds = 1;
  o.on_event = recorder.Callback();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open(o));
  ASSERT_OK(engine->CreateCollection(Spec("kb")));
  // Creating a collection is not a point write: nothing to flush yet.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(recorder.Of(EngineEventKind::kIdleFlush).empty());

  const auto written = std::chrono::steady_clock::now();
  ASSERT_OK(engine->Upsert("kb", Points(50)));
  ASSERT_EQ(WaitForEvents(recorder, EngineEventKind::kIdleFlush, 1, 10), 1u);
  // Not before the writes had been idle for idle_flush_seconds.
  EXPECT_GE(std::chrono::steady_clock::now() - written, std::chrono::seconds(1));
  std::vector<EngineEvent> flushes = recorder.Of(EngineEventKind::kIdleFlush);
  EXPECT_TRUE(flushes[0].ok);
  EXPECT_EQ(flushes[0].collection, "");
  // Idle with nothing new written: no further flush.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(recorder.Of(EngineEventKind::kIdleFlush).size(), 1u);

  // The next burst of writes is flushed once it stops, and nothing is lost by flushing.
  ASSERT_OK(engine->Delete("kb", {"p0", "p1"}));
  ASSERT_EQ(WaitForEvents(recorder, EngineEventKind::kIdleFlush, 2, 10), 2u);
  ASSERT_OK_AND_ASSIGN(uint64_t count, engine->Count("kb", std::nullopt));
  EXPECT_EQ(count, 48u);
  ASSERT_OK(engine->Close());
  ASSERT_OK_AND_ASSIGN(engine, Engine::Open(o));
  ASSERT_OK_AND_ASSIGN(count, engine->Count("kb", std::nullopt));
  EXPECT_EQ(count, 48u);
}

// Once writes go idle the dirty shards are snapshotted too (so that a shutdown after a bulk
// load has nothing large left to write), at most once per minute: a second burst right after
// is left to the periodic snapshot or to Close().
TEST(EngineEventsTest, IdleWritesBringTheSnapshotForwardOncePerMinute) {
  ragd::testing::TempDir dir;
  Recorder recorder;
  Engine::Options o;
  o.data_dir = (dir.path() / "data").string();
  o.snapshot_interval_seconds = 300;
  o.idle_flush_seconds = 1;
  o.on_event = recorder.Callback();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open(o));
  ASSERT_OK(engine->CreateCollection(Spec("kb")));
  ASSERT_OK(engine->Upsert("kb", Points(300)));
  ASSERT_EQ(WaitForEvents(recorder, EngineEventKind::kSnapshot, 1, 20), 1u);
  std::vector<EngineEvent> snapshots = recorder.Of(EngineEventKind::kSnapshot);
  EXPECT_TRUE(snapshots[0].ok);
  EXPECT_EQ(snapshots[0].collection, "kb");
  EXPECT_GE(recorder.Of(EngineEventKind::kIdleFlush).size(), 1u);

  ASSERT_OK(engine->Delete("kb", {"p0"}));
  ASSERT_EQ(WaitForEvents(recorder, EngineEventKind::kIdleFlush, 2, 20), 2u);
  EXPECT_EQ(recorder.Of(EngineEventKind::kSnapshot).size(), 1u);  // within the minute
  ASSERT_OK(engine->Close());  // the delete is still dirty: Close() saves it
  EXPECT_EQ(recorder.Of(EngineEventKind::kSnapshot).size(), 2u);
  ASSERT_OK_AND_ASSIGN(engine, Engine::Open(o));
  ASSERT_OK_AND_ASSIGN(uint64_t count, engine->Count("kb", std::nullopt));
  EXPECT_EQ(count, 299u);
}

TEST(EngineEventsTest, NoIdleFlushWhenDisabled) {
  ragd::testing::TempDir dir;
  Recorder recorder;
  Engine::Options o;
  o.data_dir = (dir.path() / "data").string();
  o.snapshot_interval_seconds = 0;
  o.idle_flush_seconds = 0;
  o.on_event = recorder.Callback();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open(o));
  ASSERT_OK(engine->CreateCollection(Spec("kb")));
  ASSERT_OK(engine->Upsert("kb", Points(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_TRUE(recorder.Of(EngineEventKind::kIdleFlush).empty());
}

TEST(EngineEventsTest, KindNames) {
  EXPECT_EQ(EngineEventKindName(EngineEventKind::kSnapshot), "snapshot");
  EXPECT_EQ(EngineEventKindName(EngineEventKind::kCompaction), "compaction");
  EXPECT_EQ(EngineEventKindName(EngineEventKind::kBackup), "backup");
  EXPECT_EQ(EngineEventKindName(EngineEventKind::kBackupPause), "backup_pause");
  EXPECT_EQ(EngineEventKindName(EngineEventKind::kIdleFlush), "idle_flush");
}

}  // namespace
}  // namespace ragd::index
