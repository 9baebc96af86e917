// Crash consistency of the real ragd: writers stream upserts and deletes, ragd is SIGKILLed at
// a random moment, restarted on the same data directory, and the state must be exactly the
// acknowledged one. The single write in flight at the kill of each writer may have been
// applied or not, but atomically: all of its points or none. Searches must return only live
// points. Seeded and bounded: 3 rounds of at most 1.6 s, at most 2,000 writes per writer per
// round.

#include <iostream>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

namespace ragd::testing {
namespace {

constexpr char kCollection[] = "crash";
constexpr int kDimension = 8;
constexpr int kWriters = 2;
constexpr int kIdsPerWriter = 150;
constexpr int kRounds = 3;
constexpr int kMaxOpsPerRound = 2000;
constexpr uint32_t kSeed = 20261123;

struct Stored {
  std::string text;
  std::vector<float> vector;
  bool operator==(const Stored& o) const { return text == o.text && vector == o.vector; }
};
using State = std::map<std::string, Stored>;  // id -> live point

// One write: upserts or deletes (never both), applied atomically by ragd.
struct Op {
  std::vector<std::pair<std::string, Stored>> upserts;
  std::vector<std::string> deletes;
  void ApplyTo(State* state) const {
    for (const auto& [id, stored] : upserts) (*state)[id] = stored;
    for (const std::string& id : deletes) state->erase(id);
  }
};

struct Writer {
  int index = 0;
  State acknowledged;
  std::optional<Op> in_flight;  // sent, never answered
  uint64_t acked_ops = 0;

  std::string Id(int i) const { return absl::StrCat("w", index, "-", i); }
};

std::chrono::system_clock::time_point Deadline(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// Runs writes until one fails (ragd died) or kMaxOpsPerRound; records the acknowledged state.
// There is no stop flag on purpose: the writer always ends on a write cut off by the kill.
void RunWriter(Writer* w, std::shared_ptr<grpc::Channel> channel, uint32_t seed) {
  auto points = v1::Points::NewStub(channel);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> coord(-1, 1);
  for (int n = 0; n < kMaxOpsPerRound; ++n) {
    Op op;
    std::set<int> chosen;
    bool upsert = std::uniform_int_distribution<int>(0, 9)(rng) < 7;
    int size = std::uniform_int_distribution<int>(1, upsert ? 16 : 8)(rng);
    while (static_cast<int>(chosen.size()) < size) {
      chosen.insert(std::uniform_int_distribution<int>(0, kIdsPerWriter - 1)(rng));
    }
    grpc::ClientContext context;
    context.set_deadline(Deadline(20));
    grpc::Status status;
    if (upsert) {
      v1::UpsertRequest request;
      request.set_collection(kCollection);
      for (int i : chosen) {
        Stored s{absl::StrCat(w->Id(i), " seed ", seed, " op ", n), {}};
        for (int d = 0; d < kDimension; ++d) s.vector.push_back(coord(rng));
        v1::Point* p = request.add_points();
        p->set_id(w->Id(i));
        p->set_text(s.text);
        p->mutable_vector()->Add(s.vector.begin(), s.vector.end());
        op.upserts.emplace_back(w->Id(i), std::move(s));
      }
      v1::UpsertResponse response;
      w->in_flight = op;
      status = points->Upsert(&context, request, &response);
    } else {
      v1::DeleteRequest request;
      request.set_collection(kCollection);
      for (int i : chosen) {
        request.mutable_ids()->add_ids(w->Id(i));
        op.deletes.push_back(w->Id(i));
      }
      v1::DeleteResponse response;
      w->in_flight = op;
      status = points->Delete(&context, request, &response);
    }
    if (!status.ok()) return;  // ragd is gone; in_flight stays unresolved
    op.ApplyTo(&w->acknowledged);
    w->in_flight.reset();
    ++w->acked_ops;
  }
}

class CrashTest : public ::testing::Test {
 protected:
  // Reads every id of `w` back and checks it against the acknowledged state, allowing the
  // in-flight write to be wholly applied or wholly absent; then folds the outcome into
  // `w->acknowledged`.
  void VerifyAndResolve(Writer* w, v1::Points::Stub* points) {
    v1::GetRequest request;
    request.set_collection(kCollection);
    request.set_with_vectors(true);
    for (int i = 0; i < kIdsPerWriter; ++i) request.add_ids(w->Id(i));
    grpc::ClientContext context;
    context.set_deadline(Deadline(30));
    v1::GetResponse response;
    grpc::Status status = points->Get(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    State actual;
    for (const v1::Point& p : response.points()) {
      actual[p.id()] = Stored{p.text(), {p.vector().begin(), p.vector().end()}};
    }
    if (w->in_flight) {
      State applied = w->acknowledged;
      w->in_flight->ApplyTo(&applied);
      ++in_flight_writes_;
      if (actual == applied && applied != w->acknowledged) {
        w->acknowledged = applied;
        ++in_flight_applied_;
      }
    }
    // Either the acknowledged state alone, or it plus the whole in-flight write.
    ASSERT_EQ(actual.size(), w->acknowledged.size()) << "writer " << w->index;
    for (const auto& [id, stored] : w->acknowledged) {
      auto it = actual.find(id);
      ASSERT_NE(it, actual.end()) << "acknowledged point " << id << " is missing";
      EXPECT_EQ(it->second.text, stored.text) << id;
      EXPECT_EQ(it->second.vector, stored.vector) << id;
    }
    w->in_flight.reset();
  }

  // Random searches return live points only, with their current text and exact L2 scores.
  void VerifySearches(const std::vector<Writer>& writers, v1::Points::Stub* points,
                      uint32_t seed) {
    std::map<std::string, const Stored*> live;
    for (const Writer& w : writers) {
      for (const auto& [id, stored] : w.acknowledged) live[id] = &stored;
    }
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> coord(-1, 1);
    for (int q = 0; q < 20; ++q) {
      v1::SearchRequest request;
      request.set_collection(kCollection);
      std::vector<float> query;
      for (int d = 0; d < kDimension; ++d) query.push_back(coord(rng));
      request.mutable_vector()->Add(query.begin(), query.end());
      request.set_k(20);
      grpc::ClientContext context;
      context.set_deadline(Deadline(30));
      v1::SearchResponse response;
      grpc::Status status = points->Search(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.hits_size(), static_cast<int>(std::min<size_t>(20, live.size())));
      for (const v1::ScoredPoint& hit : response.hits()) {
        auto it = live.find(hit.point().id());
        ASSERT_NE(it, live.end()) << "search returned dead point " << hit.point().id();
        EXPECT_EQ(hit.point().text(), it->second->text);
        float d2 = 0;
        for (int d = 0; d < kDimension; ++d) {
          float diff = it->second->vector[d] - query[d];
          d2 += diff * diff;
        }
        EXPECT_NEAR(hit.score(), -d2, 1e-4);
      }
    }
    searches_checked_ += 20;
    v1::CountRequest count_request;
    count_request.set_collection(kCollection);
    grpc::ClientContext context;
    context.set_deadline(Deadline(30));
    v1::CountResponse count;
    ASSERT_TRUE(points->Count(&context, count_request, &count).ok());
    EXPECT_EQ(count.count(), live.size());
  }

  int in_flight_writes_ = 0;   // writes cut off by a kill
  int in_flight_applied_ = 0;  // ... of which ragd had made durable
  int searches_checked_ = 0;
};

TEST_F(CrashTest, SigkillDuringWritesKeepsExactlyTheAcknowledgedState) {
  TempDir dir;
  // Snapshots every second, so that some kills land during or after a background snapshot
  // and recovery has to reconcile a snapshot that is behind RocksDB.
  std::string config = (dir.path() / "ragd.yaml").string();
  std::ofstream(config) << "engine:\n  snapshot_interval_seconds: 1\n";
  RagdProcess::Options options =
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config});
  std::vector<Writer> writers(kWriters);
  for (int i = 0; i < kWriters; ++i) writers[i].index = i;
  std::mt19937 rng(kSeed);

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto ragd = RagdProcess::Start(options);
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    auto points = v1::Points::NewStub((*ragd)->channel());
    if (round == 0) {
      auto collections = v1::Collections::NewStub((*ragd)->channel());
      v1::CreateCollectionRequest create;
      create.set_name(kCollection);
      create.set_dimension(kDimension);
      create.set_metric(v1::METRIC_L2);
      create.set_shards(2);
      grpc::ClientContext context;
      v1::CreateCollectionResponse created;
      ASSERT_TRUE(collections->CreateCollection(&context, create, &created).ok());
    } else {
      for (Writer& w : writers) {
        VerifyAndResolve(&w, points.get());
        if (HasFatalFailure()) return;
      }
      VerifySearches(writers, points.get(), kSeed + round);
    }

    std::vector<std::thread> threads;
    for (Writer& w : writers) {
      threads.emplace_back(RunWriter, &w, (*ragd)->channel(), kSeed + 100 * round + w.index);
    }
    int kill_after_ms = std::uniform_int_distribution<int>(200, 1600)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    (*ragd)->Kill();
    for (std::thread& t : threads) t.join();
  }
  uint64_t total_acked = 0;
  for (const Writer& w : writers) total_acked += w.acked_ops;
  EXPECT_GT(total_acked, 0u) << "no write was acknowledged before the kills";

  // Final recovery after the last kill, then a graceful stop and one more start: the state
  // survives the snapshot path too.
  {
    auto ragd = RagdProcess::Start(options);
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    auto points = v1::Points::NewStub((*ragd)->channel());
    for (Writer& w : writers) {
      VerifyAndResolve(&w, points.get());
      if (HasFatalFailure()) return;
    }
    VerifySearches(writers, points.get(), kSeed + 1000);
    absl::StatusOr<int> code = (*ragd)->Terminate(absl::Seconds(60));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0);
  }
  auto ragd = RagdProcess::Start(options);
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  auto points = v1::Points::NewStub((*ragd)->channel());
  for (Writer& w : writers) {
    VerifyAndResolve(&w, points.get());
    if (HasFatalFailure()) return;
  }
  VerifySearches(writers, points.get(), kSeed + 2000);
  std::cout << "crash_test: " << kRounds << " kills, " << total_acked
            << " writes acknowledged, " << in_flight_writes_ << " cut off in flight ("
            << in_flight_applied_ << " applied), " << searches_checked_ << " searches checked\n";
}

}  // namespace
}  // namespace ragd::testing
