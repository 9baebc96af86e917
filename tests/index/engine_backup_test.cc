// Engine::CreateBackup pauses writes only while it takes its checkpoint inside the data
// directory: the copy into the backup directory runs with writes going on, and the backup still
// holds exactly the state of the pause. The staging checkpoint never outlives the call (success
// or failure), and one left by a crash is removed when the engine opens.
//
// The engine reports the end of the pause (EngineEventKind::kBackupPause) on the backup's own
// thread before it copies anything, and waits for the callback; the tests use that moment to
// write (which must not block) or to take the backup directory away (which must fail the copy).

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "index/engine/engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kDim = 8;

std::vector<Point> Points(int first, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<Point> points(n);
  for (int i = 0; i < n; ++i) {
    points[i].id = "p" + std::to_string(first + i);
    points[i].text = "point " + std::to_string(first + i);
    points[i].vector.resize(kDim);
    for (float& x : points[i].vector) x = normal(rng);
  }
  return points;
}

// The backup-staging-* entries of a data directory.
std::vector<std::string> StagingDirs(const fs::path& data_dir) {
  std::vector<std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(data_dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(kBackupStagingPrefix)) out.push_back(name);
  }
  return out;
}

// An engine whose kBackupPause events run `on_pause` (on the backup's thread, before the copy).
class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.path() / "data";
    Open();
    CollectionSpec spec;
    spec.name = "kb";
    spec.dimension = kDim;
    spec.shards = 2;
    ASSERT_OK(engine_->CreateCollection(spec));
    for (int first = 0; first < 3000; first += 500) {
      ASSERT_OK(engine_->Upsert("kb", Points(first, 500, first + 1)));
    }
  }
  void Open() {
    Engine::Options o;
    o.data_dir = data_dir_.string();
    o.snapshot_interval_seconds = 0;
    o.idle_flush_seconds = 0;
    o.on_event = [this](const EngineEvent& e) {
      if (e.kind != EngineEventKind::kBackupPause) return;
      std::function<void()> hook;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++pauses_;
        hook = on_pause_;
      }
      if (hook) hook();
    };
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  }
  void OnPause(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    on_pause_ = std::move(hook);
  }
  int pauses() {
    std::lock_guard<std::mutex> lock(mu_);
    return pauses_;
  }

  ragd::testing::TempDir dir_;
  fs::path data_dir_;
  std::unique_ptr<Engine> engine_;
  std::mutex mu_;
  std::function<void()> on_pause_;
  int pauses_ = 0;
};

// The backup directory on another filesystem than the data directory where this machine has
// one (/dev/shm, a tmpfs), as a backup volume is; on the same one otherwise. Either way the
// test runs in full; only what it expects of the files' link counts differs.
struct BackupTarget {
  BackupTarget() {
    struct stat tmp_st {}, shm_st {};
    const fs::path shm = "/dev/shm";
    if (::stat(fs::temp_directory_path().c_str(), &tmp_st) == 0 &&
        ::stat(shm.c_str(), &shm_st) == 0 && tmp_st.st_dev != shm_st.st_dev &&
        ::access(shm.c_str(), W_OK) == 0) {
      root = shm / ("ragd-backup-test-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::random_device{}()));
      other_filesystem = true;
    } else {
      root = local.path() / "backups";
    }
  }
  ~BackupTarget() {
    std::error_code ec;
    if (other_filesystem) fs::remove_all(root, ec);
  }
  ragd::testing::TempDir local;
  fs::path root;
  bool other_filesystem = false;
};

// A write issued once the pause ends completes while the backup is still running (before the
// copy has even started: DIR/db does not exist yet), and the backup holds none of it.
TEST_F(BackupTest, WritesGoOnDuringTheCopyAndTheBackupHoldsThePausedState) {
  BackupTarget target;
  const fs::path dir = target.root / "2026-11-23";
  bool staged = false;
  bool copy_started = true;
  absl::Status during = absl::UnknownError("the pause was never reported");
  std::future<absl::Status> write;
  ASSERT_OK_AND_ASSIGN(CollectionInfo before, engine_->GetCollection("kb"));
  OnPause([&] {
    staged = StagingDirs(data_dir_).size() == 1;
    copy_started = fs::exists(dir / "db");
    // Another thread, as a client's write would be; the wait is bounded, so that a write the
    // backup blocks fails the test instead of hanging it (the backup goes on when this returns,
    // and the write is joined after it).
    write = std::async(std::launch::async, [&] {
      return engine_->Upsert("kb", Points(5000, 10, 77)).status();
    });
    if (write.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
      during = write.get();
    } else {
      during = absl::DeadlineExceededError("Upsert blocked by the running backup");
    }
  });
  absl::StatusOr<BackupManifest> backup = engine_->CreateBackup(dir.string());
  if (write.valid()) write.wait();
  ASSERT_OK_AND_ASSIGN(BackupManifest m, std::move(backup));
  EXPECT_EQ(pauses(), 1);
  EXPECT_TRUE(staged) << "no staging checkpoint inside the data directory during the backup";
  EXPECT_FALSE(copy_started);
  EXPECT_OK(during);
  ASSERT_EQ(m.collections.size(), 1u);
  EXPECT_EQ(m.collections[0].points, 3000u);
  EXPECT_EQ(m.collections[0].last_sequence, before.last_sequence);
  EXPECT_TRUE(StagingDirs(data_dir_).empty());
  ASSERT_OK_AND_ASSIGN(CollectionInfo live, engine_->GetCollection("kb"));
  EXPECT_EQ(live.points, 3010u);
  EXPECT_EQ(live.last_sequence, before.last_sequence + 1);

  // Copied across filesystems (one link each), linked on the same one (the live database's
  // SST files are the same inodes).
  bool some_sst = false;
  for (const fs::directory_entry& e : fs::directory_iterator(dir / "db")) {
    if (e.path().extension() != ".sst") continue;
    some_sst = true;
    if (target.other_filesystem) {
      EXPECT_EQ(fs::hard_link_count(e.path()), 1u) << e.path();
    } else {
      EXPECT_GE(fs::hard_link_count(e.path()), 2u) << e.path();
    }
  }
  EXPECT_TRUE(some_sst);

  ragd::testing::TempDir restored;
  Engine::Options o;
  o.data_dir = (restored.path() / "data").string();
  o.snapshot_interval_seconds = 0;
  ASSERT_OK_AND_ASSIGN(RestoreResult r, RestoreBackup(dir.string(), o.data_dir));
  EXPECT_FALSE(r.already_restored);
  ASSERT_OK_AND_ASSIGN(auto copy, Engine::Open(o));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, copy->GetCollection("kb"));
  EXPECT_EQ(info.points, 3000u);
  EXPECT_EQ(info.last_sequence, before.last_sequence);
  ASSERT_OK_AND_ASSIGN(auto got, copy->Get("kb", {"p0", "p2999", "p5000"}, true));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "p0");
  EXPECT_EQ(got[1].id, "p2999");
  EXPECT_EQ(got[1].text, "point 2999");
  SearchRequest req;
  req.collection = "kb";
  req.query = Points(42, 1, 43)[0].vector;
  req.k = 5;
  ASSERT_OK_AND_ASSIGN(SearchResult hits, copy->Search(req));
  EXPECT_EQ(hits.hits.size(), 5u);
}

// A copy that fails (here: the backup directory is replaced by a file once the pause is over)
// fails the backup, leaves no staging checkpoint nor a partial DIR/db, and a retry
// into the same directory then succeeds.
TEST_F(BackupTest, AFailedCopyLeavesNoStagingDirectory) {
  BackupTarget target;
  const fs::path dir = target.root / "broken";
  OnPause([&] {
    std::error_code ec;
    fs::remove_all(dir, ec);
    std::ofstream(dir) << "not a directory";
  });
  absl::StatusOr<BackupManifest> failed = engine_->CreateBackup(dir.string());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_NE(failed.status().message().find((dir / "db").string()), std::string::npos)
      << failed.status();
  EXPECT_TRUE(StagingDirs(data_dir_).empty());
  EXPECT_EQ(pauses(), 1);

  OnPause(nullptr);
  fs::remove(dir);
  ASSERT_OK_AND_ASSIGN(BackupManifest m, engine_->CreateBackup(dir.string()));
  EXPECT_EQ(m.collections[0].points, 3000u);
  EXPECT_TRUE(StagingDirs(data_dir_).empty());
  ASSERT_OK(ReadBackup(dir.string()).status());

  // Refused before any staging (the directory holds a backup now): nothing is left either.
  EXPECT_EQ(engine_->CreateBackup(dir.string()).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(StagingDirs(data_dir_).empty());
  EXPECT_EQ(pauses(), 2);
}

// What a crash during a backup leaves inside the data directory is gone once the engine opens
// again; nothing else there is touched.
TEST_F(BackupTest, OpenRemovesTheStagingDirectoryOfACrashedBackup) {
  ASSERT_OK(engine_->Close());
  engine_.reset();
  const fs::path stale = data_dir_ / (std::string(kBackupStagingPrefix) + "1763890000000-0");
  fs::create_directories(stale);
  std::ofstream(stale / "000012.sst") << "half a checkpoint";
  std::ofstream(data_dir_ / "backup-notes.txt") << "an operator's file";
  Open();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(StagingDirs(data_dir_).empty());
  EXPECT_TRUE(fs::exists(data_dir_ / "backup-notes.txt"));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.points, 3000u);
}

}  // namespace
}  // namespace ragd::index
