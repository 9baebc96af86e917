#pragma once
// Runs a real nats-server (JetStream on, file storage) on 127.0.0.1 for the cluster tests:
// one node, or a cluster of N nodes joined by routes. Ports are picked free by the test and
// kept across Kill()/Restart(), so a restarted node rejoins its cluster with its data. Output
// goes to a log file whose tail is included in errors. The server dies with the test process
// (PR_SET_PDEATHSIG).
//
// Not thread-safe: one test thread drives a NatsServer.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ragd::testing {

class NatsServer {
 public:
  struct Options {
    std::string name = "n1";       // server_name (unique in a cluster)
    std::string dir;               // required: JetStream store, config and log live here
    int port = 0;                  // client port; 0 picks a free one
    int cluster_port = 0;          // route port; 0 = no cluster
    std::vector<int> route_ports;  // the other nodes' route ports
    // Client and route address. Default: loopback; a partition test gives the host side of
    // its veth pair, so that a pod in a network namespace reaches the server.
    std::string host = "127.0.0.1";
    absl::Duration start_timeout = absl::Seconds(20);
  };

  // Starts the server and waits until it accepts clients ("Server is ready" in its log).
  static absl::StatusOr<std::unique_ptr<NatsServer>> Start(Options options);
  // `n` nodes (n1..nN) in directories under `base_dir`, every one routed to every other.
  static absl::StatusOr<std::vector<std::unique_ptr<NatsServer>>> StartCluster(
      int n, const std::string& base_dir, const std::string& host = "127.0.0.1");
  // SIGKILLs the server if it runs.
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // SIGKILL, then reap. Idempotent.
  void Kill();
  // Starts again with the same ports and store (after Kill()).
  absl::Status Restart();

  std::string url() const {
    return "nats://" + options_.host + ":" + std::to_string(options_.port);
  }
  int port() const { return options_.port; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const Options& options() const { return options_; }
  std::string LogTail(size_t max_bytes = 4000) const;

  // A port on 127.0.0.1 that was free when asked and stays reserved for the rest of the process
  // (its socket stays bound, SO_REUSEADDR + SO_REUSEPORT, not listening): nothing else on the
  // machine takes it, while nats-server and ragd can still bind it (nats_server.cc says why).
  static int FreePort();
  // The nats-server binary the tests use.
  static const char* Binary();

 private:
  explicit NatsServer(Options options) : options_(std::move(options)) {}
  static absl::StatusOr<std::unique_ptr<NatsServer>> StartOnce(Options options);
  absl::Status Launch();

  Options options_;
  pid_t pid_ = -1;
  std::string log_file_;
  std::string config_file_;
};

}  // namespace ragd::testing
