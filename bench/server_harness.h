#pragma once
// What the suites that start a server and call it over the wire share (ragd_suite.cc and
// floor_suite.cc): the child process, the gRPC channel and search loop, and the server's CPU
// and context switches per call, read from /proc around a load.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/suites.h"
#include "ragd/v1/points.grpc.pb.h"

namespace ragd::bench {

inline constexpr char kCollection[] = "bench";
inline constexpr int kMaxMessageBytes = 64 << 20;  // ragd's default server.max_message_bytes

// One ragd child process. The destructor SIGKILLs it if it is still running, and the child
// dies with us (PR_SET_PDEATHSIG) if the benchmark itself is killed, so no server outlives it.
class RagdProcess {
 public:
  RagdProcess() = default;
  RagdProcess(const RagdProcess&) = delete;
  RagdProcess& operator=(const RagdProcess&) = delete;
  ~RagdProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Starts `binary args...` with stdout and stderr appended to `log_path`.
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             const std::string& log_path, std::string* error) {
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    return true;
  }

  int pid() const { return pid_; }

  // True while the child has not exited; reaps it when it has.
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    exit_status_ = status;
    pid_ = -1;
    return false;
  }

  // SIGTERM, then waits up to `timeout` seconds (SIGKILL after that). Returns the exit code,
  // or -1 when it had to be killed or died from a signal.
  int Terminate(double timeout, double* seconds) {
    Clock::time_point start = Clock::now();
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    while (Alive() && SecondsSince(start) < timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &exit_status_, 0);
      pid_ = -1;
      *seconds = SecondsSince(start);
      return -1;
    }
    *seconds = SecondsSince(start);
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// Where a server listens: 127.0.0.1:port, or the Unix socket `unix_socket` when set.
std::string TargetOf(int port, const std::string& unix_socket);
// A channel with ragd's message limits and a TCP connection of its own.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int channel_id);
void SetDeadline(grpc::ClientContext* ctx, double seconds);
// The last lines of a server's log, for an error message.
std::string RagdLogTail(const std::string& log_path);
// Fills `ids` (kTopK, -1 padded) from the hits of a search response; false if an id is not
// one of ours.
bool ParseHits(const ragd::v1::SearchResponse& response, int64_t* ids);
// One client's connection and the messages it reuses call after call (RunSearchLoad's and the
// paired rounds' clients).
struct SearchClient {
  std::unique_ptr<ragd::v1::Points::Stub> stub;
  ragd::v1::SearchRequest request;
  ragd::v1::SearchResponse response;
  // A channel of its own to `target`; k, no payload, and `ef` per request unless 0 (the
  // collection's default).
  void Connect(const std::string& target, int channel_id, size_t ef);
  // One Points.Search of `query` (dim floats); the hits' ids into ids (kTopK, -1 padded).
  bool Search(const float* query, size_t dim, int64_t* ids);
};
// Points.Search from `clients` threads, a connection each, over the data set's queries
// (RunQueryLoad's passes). `ef` 0 leaves SearchRequest.ef unset (the collection's default).
LoadResult RunSearchLoad(const SuiteContext& ctx, const std::string& target, int clients,
                         LoadOptions load, size_t ef = 0);

// A server process's CPU and context switches over one load, for the per-call figures of a
// search record (ragd's and the gRPC floor's alike).
struct ServerCost {
  double cpu_seconds = 0;
  ContextSwitches switches;
  uint64_t minor_faults = 0;
};
template <typename Load>
LoadResult MeasureServer(int pid, ServerCost* cost, Load&& load) {
  const double cpu_start = ProcessCpuSeconds(pid);
  const ContextSwitches switches_start = ProcessContextSwitches(pid);
  const uint64_t faults_start = ProcessMinorFaults(pid);
  LoadResult r = load();
  cost->cpu_seconds = ProcessCpuSeconds(pid) - cpu_start;
  cost->minor_faults = ProcessMinorFaults(pid) - faults_start;
  cost->switches = SwitchesBetween(switches_start, ProcessContextSwitches(pid));
  return r;
}
// server_cpu_ms_per_call and the switches per call: the thread hand-offs behind the CPU figure,
// which load hardly changes (bench/README.md, "Search on a completion queue").
void AddServerCost(const ServerCost& cost, double calls, nlohmann::json* record);

}  // namespace ragd::bench
