#pragma once
// A whole cluster on one machine for the chaos tests (cluster_chaos_test.cc): 3 nats-server
// nodes (JetStream, R3 streams) and N real ragd pods with a `cluster:` section, called through
// the generated stubs. Pods can be SIGKILLed and restarted on their data directory or on an
// empty one, and run in a network namespace (RagdProcess::Options::launcher/host).
//
// Thread safety: pods are started, killed and restarted from one (nemesis) thread; Channel()
// and Up() may be called from any thread (client threads pick pods while the nemesis works).

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

namespace ragd::testing {

inline std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration timeout,
                                                        const std::string& request_id = "") {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  if (!request_id.empty()) c->AddMetadata("x-request-id", request_id);
  return c;
}

// Where a pod listens and how it is launched (RagdProcess::Options' fields of the same names).
struct ClusterPodOptions {
  std::string host = "127.0.0.1";
  std::vector<std::string> launcher;  // e.g. ip netns exec NS
};

class ClusterHarness {
 public:
  using PodOptions = ClusterPodOptions;

  // 3 NATS nodes listening on `nats_host` (loopback, or the host side of a veth pair).
  explicit ClusterHarness(const std::string& base_dir, std::string nats_host = "127.0.0.1")
      : base_(base_dir), nats_host_(std::move(nats_host)) {}

  absl::Status StartNats() {
    auto nodes = NatsServer::StartCluster(3, (base_ / "nats").string(), nats_host_);
    if (!nodes.ok()) return nodes.status();
    nats_ = *std::move(nodes);
    return absl::OkStatus();
  }

  std::vector<std::string> NatsUrls() const {
    std::vector<std::string> urls;
    for (const auto& n : nats_) urls.push_back(n->url());
    return urls;
  }

  // Adds pod `name` (config file and data directory under the base) and starts it.
  absl::Status AddPod(const std::string& name, PodOptions options = {}) {
    Pod pod;
    pod.name = name;
    pod.dir = (base_ / name).string();
    pod.config = (base_ / (name + ".yaml")).string();
    pod.options = std::move(options);
    std::ofstream(pod.config) << "cluster:\n  nats_urls: [\"" << absl::StrJoin(NatsUrls(), "\", \"")
                              << "\"]\n  pod_id: " << name
                              << "\n  replicas: 3\n  request_timeout_ms: 2000\n";
    // A pod in the test's own network namespace listens on its veth address, which only this
    // test can reach: ragd refuses a non-loopback address without API keys unless told so.
    if (pod.options.host != "127.0.0.1") {
      std::ofstream(pod.config, std::ios::app) << "auth:\n  allow_unauthenticated: true\n";
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      pods_.push_back(std::move(pod));
    }
    return StartPod(pods_.size() - 1, /*wipe=*/false);
  }

  // Starts pod `i` (after KillPod), on its data directory or, with `wipe`, an empty one, and
  // waits for SERVING: at start ragd catches up with the log first. ragd exits with code 1
  // when NATS does not answer its start-up calls in time (while the JetStream cluster forms,
  // or elects a stream leader after a kill); like the kubelet, start it again (at most 5
  // times).
  absl::Status StartPod(size_t i, bool wipe) {
    Pod& pod = pods_[i];
    if (wipe) std::filesystem::remove_all(pod.dir);
    absl::StatusOr<std::unique_ptr<RagdProcess>> p;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto o = RagdProcess::OptionsFor(pod.dir, {"--config", pod.config});
      o.host = pod.options.host;
      o.launcher = pod.options.launcher;
      o.start_timeout = absl::Seconds(90);
      p = RagdProcess::Start(std::move(o));
      if (p.ok() || p.status().message().find("code 1)") == std::string::npos) break;
      ++start_retries_;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!p.ok()) return p.status();
    std::lock_guard<std::mutex> lock(mu_);
    pod.process = *std::move(p);
    pod.channel = pod.process->channel();
    return absl::OkStatus();
  }

  void KillPod(size_t i) {
    std::unique_ptr<RagdProcess> p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pods_[i].channel = nullptr;
      p = std::move(pods_[i].process);
    }
    if (p) p->Kill();
  }

  // Null while the pod is down.
  std::shared_ptr<grpc::Channel> Channel(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return pods_[i].channel;
  }
  // The pods that run now.
  std::vector<size_t> Up() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<size_t> up;
    for (size_t i = 0; i < pods_.size(); ++i) {
      if (pods_[i].channel) up.push_back(i);
    }
    return up;
  }
  size_t pods() const { return pods_.size(); }
  // How many starts ended with ragd's exit code 1 and were repeated.
  int start_retries() const { return start_retries_; }
  RagdProcess* process(size_t i) { return pods_[i].process.get(); }
  std::vector<std::unique_ptr<NatsServer>>& nats() { return nats_; }

  // Creates collection `name` (flat, L2, `dim`) through pod 0, retrying while the JetStream
  // meta group elects its leader (bounded).
  absl::Status CreateCollection(const std::string& name, int dim) {
    v1::CreateCollectionRequest req;
    req.set_name(name);
    req.set_dimension(dim);
    req.set_metric(v1::METRIC_L2);
    req.mutable_index()->mutable_flat();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    grpc::Status st;
    while (absl::Now() < deadline) {
      auto stub = v1::Collections::NewStub(Channel(0));
      v1::CreateCollectionResponse resp;
      auto ctx = CallContext(absl::Seconds(10), "create-" + name);
      st = stub->CreateCollection(ctx.get(), req, &resp);
      if (st.ok()) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return absl::UnavailableError("CreateCollection: " + st.error_message());
  }

  // The ids of `ids` that pod `i` holds now, sorted; an error if the call fails.
  absl::StatusOr<std::vector<std::string>> Ids(size_t i, const std::string& collection,
                                               const std::vector<std::string>& ids) const {
    auto ch = Channel(i);
    if (!ch) return absl::UnavailableError("pod down");
    auto stub = v1::Points::NewStub(ch);
    v1::GetRequest req;
    req.set_collection(collection);
    for (const auto& id : ids) req.add_ids(id);
    v1::GetResponse resp;
    auto ctx = CallContext(absl::Seconds(10));
    grpc::Status st = stub->Get(ctx.get(), req, &resp);
    if (!st.ok()) return absl::UnavailableError(st.error_message());
    std::vector<std::string> got;
    for (const auto& p : resp.points()) got.push_back(p.id());
    std::sort(got.begin(), got.end());
    return got;
  }

  // Polls pod `i` until it holds exactly `want` (sorted) of `ids`, up to `timeout`; returns
  // what it held last.
  std::vector<std::string> WaitForIds(size_t i, const std::string& collection,
                                      const std::vector<std::string>& ids,
                                      const std::vector<std::string>& want,
                                      absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> last;
    while (absl::Now() < deadline) {
      auto got = Ids(i, collection, ids);
      if (got.ok()) {
        last = *got;
        if (last == want) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  }

 private:
  struct Pod {
    std::string name;
    std::string dir;
    std::string config;
    PodOptions options;
    std::unique_ptr<RagdProcess> process;
    std::shared_ptr<grpc::Channel> channel;
  };

  std::filesystem::path base_;
  std::string nats_host_;
  std::vector<std::unique_ptr<NatsServer>> nats_;
  mutable std::mutex mu_;
  std::vector<Pod> pods_;  // the vector itself is only resized before the clients start
  int start_retries_ = 0;
};

}  // namespace ragd::testing
