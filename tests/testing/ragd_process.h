#pragma once
// Runs the real ragd binary for integration tests: on 127.0.0.1 with a port chosen by the
// kernel (--listen 127.0.0.1:0 --port-file), on a data directory the test owns, so that the
// test can kill it and start it again on the same data. stdout and stderr go to a log file
// whose tail is included in errors.
//
// Not thread-safe: one test thread drives a RagdProcess; the channel may be shared freely.

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/temp_dir.h"

namespace ragd::testing {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

class RagdProcess {
 public:
  struct Options {
    std::string data_dir;                 // required; kept across restarts by the test
    // e.g. {"--workers", "2"}; a --listen here replaces the default 127.0.0.1:0.
    std::vector<std::string> extra_args;
    bool wait_for_serving = true;         // Start() returns once health says SERVING
    absl::Duration start_timeout = absl::Seconds(60);
    // The address ragd listens on (gRPC, admin, HTTP) and the test dials. Default: loopback.
    // A partition test puts ragd in a network namespace and gives its veth address here.
    std::string host = "127.0.0.1";
    // Run ragd through this command, e.g. {"/usr/sbin/ip", "netns", "exec", "ns1"}; it must
    // exec ragd in the same process (pid() stays ragd's, so Kill() reaches it).
    std::vector<std::string> launcher;
  };

  static Options OptionsFor(std::string data_dir, std::vector<std::string> extra_args = {},
                            bool wait_for_serving = true) {
    Options o;
    o.data_dir = std::move(data_dir);
    o.extra_args = std::move(extra_args);
    o.wait_for_serving = wait_for_serving;
    return o;
  }

  // Starts ragd and waits for its port file (and for SERVING when asked). The error carries
  // the tail of ragd's log when it exits early or times out.
  static absl::StatusOr<std::unique_ptr<RagdProcess>> Start(Options options);
  // SIGKILLs the process if it still runs.
  ~RagdProcess();
  RagdProcess(const RagdProcess&) = delete;
  RagdProcess& operator=(const RagdProcess&) = delete;

  int port() const { return port_; }
  std::string address() const { return options_.host + ":" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // The admin HTTP port (/metrics, /livez, /readyz) on options().host, chosen by the kernel unless
  // extra_args set --admin-listen (then 0).
  int admin_port() const { return admin_port_; }
  // The OpenAI-compatible HTTP API's port on 127.0.0.1, chosen by the kernel unless extra_args
  // set --http-listen (then 0).
  int http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  const Options& options() const { return options_; }

  // Health of `service` ("" is the server as a whole).
  absl::StatusOr<ServingStatus> Health(const std::string& service = "") const;
  absl::Status WaitForServing(absl::Duration timeout);

  // SIGKILL, then reap. Idempotent.
  void Kill();
  // SIGTERM, then waits up to `timeout` for the exit code (a signal death is an error).
  absl::StatusOr<int> Terminate(absl::Duration timeout);
  // Waits up to `timeout` for the process to exit on its own.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  bool running() const { return pid_ > 0; }

  // The last `max_bytes` of ragd's stdout and stderr.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit RagdProcess(Options options) : options_(std::move(options)) {}

  Options options_;
  TempDir scratch_;  // port file and log
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_port_ = 0;
  int http_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// The full service names that server reflection lists, e.g. "ragd.v1.Points".
absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout = absl::Seconds(10));

// How many file descriptors server reflection returns for the file that defines `symbol`
// (e.g. "grpc.health.v1.Health"), as grpcurl asks before calling a method; the server's
// error_response (NOT_FOUND) as a status.
absl::StatusOr<size_t> FileDescriptorsByReflection(const std::shared_ptr<grpc::Channel>& channel,
                                                   const std::string& symbol,
                                                   absl::Duration timeout = absl::Seconds(10));

// Runs `argv` (argv[0] is the binary path) to completion with `stdin_text` on stdin, capturing
// stdout and stderr separately; for testing ragctl. Fails if it runs longer than `timeout`.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(60),
                                         const std::vector<std::string>& extra_env = {});

// The path of the ragd binary under test (compiled in as RAGD_BINARY).
const char* RagdBinary();

}  // namespace ragd::testing
