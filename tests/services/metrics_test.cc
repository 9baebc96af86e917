// Metrics::RecordRpc resolves each thread's series once (metrics.cc): the counts must still land
// in the right instance, whichever thread records and whatever instance that thread saw before.

#include "services/server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ragd::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSearch[] = "/ragd.v1.Points/Search";

TEST(MetricsTest, RpcCountsLandInTheirOwnInstanceWhateverTheThreadRecordedBefore) {
  // Two instances one after the other on this thread (the second may even reuse the first's
  // address), each also fed from a thread of its own.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    Metrics metrics;
    metrics.RecordRpc(kSearch, "OK", 0.002);
    metrics.RecordRpc(kSearch, "OK", 0.002);
    metrics.RecordRpc(kSearch, "NOT_FOUND", 0.0001);
    std::thread([&metrics] { metrics.RecordRpc(kSearch, "OK", 0.3); }).join();
    metrics.RecordRpc("other", "UNIMPLEMENTED", 0.0001);
    const std::string text = metrics.Scrape({});
    EXPECT_THAT(text, HasSubstr("ragd_grpc_requests_total{code=\"OK\",method=\"" +
                                std::string(kSearch) + "\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("ragd_grpc_requests_total{code=\"NOT_FOUND\",method=\"" +
                                std::string(kSearch) + "\"} 1\n"));
    EXPECT_THAT(text, HasSubstr(
                          "ragd_grpc_requests_total{code=\"UNIMPLEMENTED\",method=\"other\"} 1\n"));
    // Four calls in the histogram, one of them (0.3 s) above the 0.25 s bucket.
    EXPECT_THAT(text, HasSubstr("ragd_grpc_request_duration_seconds_count{method=\"" +
                                std::string(kSearch) + "\"} 4\n"));
    EXPECT_THAT(text, HasSubstr("ragd_grpc_request_duration_seconds_bucket{method=\"" +
                                std::string(kSearch) + "\",le=\"0.25\"} 3\n"));
  }
}

TEST(MetricsTest, ConcurrentRecordingCountsEveryCall) {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kCalls = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kCalls; ++i) {
        metrics.RecordRpc(kSearch, (i + t) % 2 == 0 ? "OK" : "DEADLINE_EXCEEDED", 0.001);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const std::string text = metrics.Scrape({});
  const int half = kThreads * kCalls / 2;
  EXPECT_THAT(text, HasSubstr("ragd_grpc_requests_total{code=\"OK\",method=\"" +
                              std::string(kSearch) + "\"} " + std::to_string(half) + "\n"));
  EXPECT_THAT(text, HasSubstr("ragd_grpc_requests_total{code=\"DEADLINE_EXCEEDED\",method=\"" +
                              std::string(kSearch) + "\"} " + std::to_string(half) + "\n"));
  EXPECT_THAT(text, HasSubstr("ragd_grpc_request_duration_seconds_count{method=\"" +
                              std::string(kSearch) + "\"} " +
                              std::to_string(kThreads * kCalls) + "\n"));
}

// MethodLabel remembers registered methods per thread: asked again, and from another thread,
// the answers stay the same, and a made-up name stays "other" however often it is asked.
TEST(MetricsTest, MethodLabelKeepsRegisteredMethodsAndFoldsTheRest) {
  auto check = [] {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(MethodLabel(kSearch), kSearch);
      EXPECT_EQ(MethodLabel("/ragd.v1.Collections/CreateCollection"),
                "/ragd.v1.Collections/CreateCollection");
      EXPECT_EQ(MethodLabel("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
      EXPECT_EQ(MethodLabel("/ragd.v1.Points/NoSuchMethod"), "other");
      EXPECT_EQ(MethodLabel("/ragd.v1.NoSuchService/Search"), "other");
      EXPECT_EQ(MethodLabel("/made.up.Service/Call" + std::to_string(i)), "other");
      EXPECT_EQ(MethodLabel("/ragd.v1."), "other");
      EXPECT_EQ(MethodLabel(""), "other");
    }
  };
  check();
  std::thread(check).join();
}

}  // namespace
}  // namespace ragd::services
