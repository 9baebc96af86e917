// Concurrent upserts and searches from several client threads against one ragd: every call
// succeeds, a write is visible to Get and Search as soon as it returns, and the final count is
// exact. Bounded: 4 writers x 15 batches x 20 points, readers stop when writers finish or
// after 60 s.

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

constexpr int kWriters = 4;
constexpr int kReaders = 4;
constexpr int kBatches = 15;
constexpr int kBatchPoints = 20;
constexpr int kDimension = 16;

std::vector<float> VectorFor(int writer, int batch, int i) {
  std::vector<float> v(kDimension);
  for (int d = 0; d < kDimension; ++d) {
    v[d] = static_cast<float>(((writer * 7919 + batch * 104729 + i * 31 + d * 17) % 997)) /
               997.0f -
           0.5f;
  }
  return v;
}

class ConcurrencyTest : public RagdSuite {};

TEST_F(ConcurrencyTest, UpsertsAndSearchesFromManyClients) {
  ASSERT_GRPC_OK(client().Create("shared", kDimension));
  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::atomic<int> searches{0};
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Client c(ragd().channel());  // one stub per thread, sharing the channel
      for (int b = 0; b < kBatches && std::chrono::steady_clock::now() < give_up; ++b) {
        std::string batch_tag = absl::StrCat("w", w, "b", b);
        std::vector<v1::Point> points;
        std::vector<std::string> ids;
        for (int i = 0; i < kBatchPoints; ++i) {
          v1::Point p = MakePoint(absl::StrCat(batch_tag, "-", i), VectorFor(w, b, i));
          (*p.mutable_metadata())["batch"].set_string_value(batch_tag);
          ids.push_back(p.id());
          points.push_back(std::move(p));
        }
        grpc::Status s = c.Upsert("shared", std::move(points));
        if (!s.ok()) {
          ADD_FAILURE() << "upsert: " << s.error_message();
          ++failures;
          continue;
        }
        // Read-your-writes: Get sees the whole batch, and a search filtered on the batch
        // finds all of its points.
        v1::GetResponse got;
        s = c.Get("shared", ids, false, &got);
        EXPECT_TRUE(s.ok()) << s.error_message();
        EXPECT_EQ(got.points_size(), kBatchPoints) << batch_tag;
        v1::SearchRequest search;
        search.set_collection("shared");
        auto v = VectorFor(w, b, 0);
        search.mutable_vector()->Add(v.begin(), v.end());
        search.set_k(kBatchPoints);
        search.mutable_filter()->mutable_condition()->set_key("batch");
        search.mutable_filter()->mutable_condition()->mutable_equals()->set_string_value(
            batch_tag);
        v1::SearchResponse response;
        s = c.Search(search, &response);
        EXPECT_TRUE(s.ok()) << s.error_message();
        EXPECT_EQ(response.hits_size(), kBatchPoints) << batch_tag;
        if (response.hits_size() > 0) {
          EXPECT_EQ(response.hits(0).point().id(), batch_tag + "-0");
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      Client c(ragd().channel());
      int i = 0;
      while (!writers_done && std::chrono::steady_clock::now() < give_up) {
        v1::SearchRequest search;
        search.set_collection("shared");
        auto v = VectorFor(r, i++, 3);
        search.mutable_vector()->Add(v.begin(), v.end());
        search.set_k(10);
        v1::SearchResponse response;
        grpc::Status s = c.Search(search, &response);
        if (!s.ok()) {
          ADD_FAILURE() << "search: " << s.error_message();
          ++failures;
          break;
        }
        for (int h = 1; h < response.hits_size(); ++h) {
          EXPECT_GE(response.hits(h - 1).score(), response.hits(h).score());
        }
        ++searches;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  writers_done = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  uint64_t count = 0;
  ASSERT_GRPC_OK(client().Count("shared", nullptr, &count));
  EXPECT_EQ(count, uint64_t{kWriters} * kBatches * kBatchPoints);
}

TEST_F(ConcurrencyTest, ConcurrentCollectionCreatesOneWins) {
  std::atomic<int> created{0};
  std::atomic<int> already_exists{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      Client c(ragd().channel());
      grpc::Status s = c.Create("race", 4);
      if (s.ok()) {
        ++created;
      } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
        ++already_exists;
      } else {
        ADD_FAILURE() << s.error_message();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(already_exists.load(), 5);
}

}  // namespace
}  // namespace ragd::testing
