// ragd: parses the configuration, starts the server, waits for SIGTERM or SIGINT and shuts
// down gracefully. Exit codes: 0 after a clean shutdown, 1 when serving fails (address in use,
// recovery error, I/O error while restoring), 2 on a usage or configuration error or a refused
// --restore-from (not a complete backup, or data_dir already holds another database).

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/engine/backup.h"
#include "services/server/config.h"
#include "services/server/logging.h"
#include "services/server/server.h"

namespace {

// Why a self-pipe and not sigwait(): sigwait() needs the signals blocked in every thread, and
// libopenblas (linked through FAISS) starts its thread pool from a library constructor, before
// main(), with nothing blocked. The kernel may hand a process-directed SIGTERM to that thread
// whenever the sigwait()ing thread is not waiting yet, and the default action kills ragd
// without saving anything. A handler runs on whichever thread gets the signal, and all it does
// is write one byte (async-signal-safe); the main thread does the work.
int g_wake_pipe[2] = {-1, -1};
constexpr char kRecoveryFailed = 0;

extern "C" void OnStopSignal(int signal) {
  char byte = static_cast<char>(signal);
  ssize_t ignored = write(g_wake_pipe[1], &byte, 1);
  (void)ignored;
}

// Blocks until a stop signal arrives or recovery fails; returns the byte written.
char WaitForWake() {
  char byte = 0;
  for (;;) {
    ssize_t n = read(g_wake_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return kRecoveryFailed;  // cannot happen while the write end is open
  }
}

int Run(int argc, char** argv) {
  ragd::services::CommandLine cli = ragd::services::ParseCommandLine(
      argc, argv, ragd::services::ProcessEnvironment(), std::cout, std::cerr);
  if (cli.exit_code) return *cli.exit_code;
  const ragd::services::Config& config = cli.config;
  if (absl::Status s = ragd::services::ConfigureLogging(config.log.level, config.log.format);
      !s.ok()) {
    std::cerr << "ragd: configuration error: " << s.message() << "\n";
    return 2;
  }

  // Before the engine opens data_dir, and synchronously: a refused restore must stop ragd
  // (exit 2) rather than start serving whatever data_dir holds.
  if (!config.storage.restore_from.empty()) {
    absl::StatusOr<ragd::index::RestoreResult> restored =
        ragd::index::RestoreBackup(config.storage.restore_from, config.storage.data_dir);
    if (!restored.ok()) {
      spdlog::error("restore from {} into {}: {}", config.storage.restore_from,
                    config.storage.data_dir, restored.status().ToString());
      // An I/O error may pass on a restart; anything else needs the operator.
      return restored.status().code() == absl::StatusCode::kUnavailable ? 1 : 2;
    }
    if (restored->already_restored) {
      spdlog::info(
          "{} already holds the backup {} (restored by an earlier start); starting "
          "normally",
          config.storage.data_dir, config.storage.restore_from);
    } else {
      spdlog::info("restored backup {} ({} collection(s), taken by ragd {}) into {}: {} bytes",
                   config.storage.restore_from, restored->manifest.collections.size(),
                   restored->manifest.ragd_version, config.storage.data_dir,
                   restored->bytes_copied);
    }
  }

  if (pipe2(g_wake_pipe, O_CLOEXEC) != 0) {
    spdlog::error("pipe2: {}", std::strerror(errno));
    return 1;
  }
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // other threads' interrupted system calls resume
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  std::atomic<bool> recovery_failed{false};
  auto server = ragd::services::RagdServer::Start(config, [&](const absl::Status& status) {
    if (status.ok()) return;
    recovery_failed = true;
    char byte = kRecoveryFailed;
    ssize_t ignored = write(g_wake_pipe[1], &byte, 1);
    (void)ignored;
  });
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("ragd listening on {} (port {}), data dir {}; recovering", config.server.listen,
               (*server)->port(), config.storage.data_dir);
  if ((*server)->admin_port() > 0) {
    spdlog::info("admin port {} ({}): /metrics, /livez, /readyz", (*server)->admin_port(),
                 config.server.admin_tls.cert_file.empty() ? "http" : "https");
  }

  char wake = WaitForWake();
  if (wake != kRecoveryFailed) {
    spdlog::info("signal {}: shutting down (grace {} s)", static_cast<int>(wake),
                 config.server.shutdown_grace_seconds);
  }
  absl::Status closed = (*server)->Shutdown(absl::Seconds(config.server.shutdown_grace_seconds));
  if (!closed.ok()) {
    spdlog::error("closing the engine: {}", closed.ToString());
    return 1;
  }
  if (recovery_failed) return 1;
  spdlog::info("ragd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc raises its mmap threshold after large blocks are freed, so the multi-megabyte request
  // buffers of bulk upserts end up on the heap and stay resident after ingestion. A fixed
  // threshold returns them to the system, and fewer arenas keep gRPC's many threads from
  // each holding free memory: resident memory then tracks the index (bench/README.md).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 4);
  // Debian's abseil is built without NDEBUG, so absl::Mutex (under every grpc_core::Mutex)
  // defaults to deadlock detection: each lock records an edge in a global lock graph (seen as
  // GraphCycles::GetId/InsertEdge in a profile of the search path). It is a debugging aid, and
  // TSan (make test-tsan) checks ragd's locking.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return Run(argc, argv);
}
