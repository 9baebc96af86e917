#pragma once
// Helpers shared by production_test.cc (admin port, metrics, print-config) and
// production_auth_test.cc (API keys, scopes, rate limits, TLS, ragctl auth): files written for a
// test, plain HTTP GETs of the admin port, Prometheus samples, and gRPC calls with an API key.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "tests/services/service_test_util.h"

namespace ragd::testing {

inline std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

inline HttpResult HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result r = client.Get(path.c_str());
  if (!r) return {};
  return {r->status, r->body};
}

// The value of the sample `name{labels}` in Prometheus text, or -1 when absent. `labels` is
// matched as a set of `key="value"` pairs, in any order.
inline double Sample(const std::string& text, const std::string& name,
                     const std::map<std::string, std::string>& labels) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    std::string label_text;
    if (!rest.empty() && rest[0] == '{') {
      size_t close = rest.find('}');
      label_text = std::string(rest.substr(1, close - 1));
      rest = rest.substr(close + 1);
    } else if (rest.empty() || rest[0] != ' ') {
      continue;  // a longer name with the same prefix
    }
    bool all = true;
    for (const auto& [k, v] : labels) {
      if (label_text.find(absl::StrCat(k, "=\"", v, "\"")) == std::string::npos) all = false;
    }
    double value = 0;
    if (all && absl::SimpleAtod(absl::StripAsciiWhitespace(rest), &value)) return value;
  }
  return -1;
}

inline grpc::Status ListWithKey(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& key,
                                const std::string& header = "authorization") {
  auto stub = v1::Collections::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(10));
  if (!key.empty()) {
    context.AddMetadata(header, header == "authorization" ? "Bearer " + key : key);
  }
  v1::ListCollectionsRequest request;
  v1::ListCollectionsResponse response;
  return stub->ListCollections(&context, request, &response);
}

inline grpc::Status CreateWithKey(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& key, const std::string& name) {
  auto stub = v1::Collections::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(10));
  context.AddMetadata("authorization", "Bearer " + key);
  v1::CreateCollectionRequest request;
  request.set_name(name);
  request.set_dimension(3);
  v1::CreateCollectionResponse response;
  return stub->CreateCollection(&context, request, &response);
}

inline grpc::Status UpsertWithKey(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& key, const std::string& collection,
                                  const std::string& request_id = "") {
  auto stub = v1::Points::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(10));
  if (!key.empty()) context.AddMetadata("authorization", "Bearer " + key);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  v1::UpsertRequest request;
  request.set_collection(collection);
  *request.add_points() = MakePoint("p1", {1, 0, 0});
  v1::UpsertResponse response;
  return stub->Upsert(&context, request, &response);
}

inline grpc::Status SearchWithKey(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& key, const std::string& collection) {
  auto stub = v1::Points::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(10));
  context.AddMetadata("authorization", "Bearer " + key);
  v1::SearchRequest request;
  request.set_collection(collection);
  request.add_vector(1);
  request.add_vector(0);
  request.add_vector(0);
  request.set_k(1);
  v1::SearchResponse response;
  return stub->Search(&context, request, &response);
}

}  // namespace ragd::testing
