// ragd: parses the configuration, starts the server, waits for SIGTERM or SIGINT and shuts
// down gracefully. Exit codes: 0 after a clean shutdown, 1 when serving fails (address in use,
// recovery error), 2 on a usage or configuration error.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>

#include <spdlog/spdlog.h>

#include "absl/time/time.h"
#include "services/config.h"
#include "services/server.h"

namespace {

// Raised by the recovery thread to wake the main thread's sigwait() when recovery fails.
constexpr int kRecoveryFailedSignal = SIGUSR1;

int Run(int argc, char** argv) {
  ragd::services::CommandLine cli = ragd::services::ParseCommandLine(
      argc, argv, ragd::services::ProcessEnvironment(), std::cout, std::cerr);
  if (cli.exit_code) return *cli.exit_code;
  const ragd::services::Config& config = cli.config;
  spdlog::set_level(spdlog::level::from_str(config.log.level));

  // Blocked before any thread starts, so every gRPC and engine thread inherits the mask and
  // the signals are only ever taken by sigwait() below: no work in a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, kRecoveryFailedSignal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::atomic<bool> recovery_failed{false};
  auto server = ragd::services::RagdServer::Start(config, [&](const absl::Status& status) {
    if (status.ok()) return;
    recovery_failed = true;
    kill(getpid(), kRecoveryFailedSignal);
  });
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("ragd listening on {} (port {}), data dir {}; recovering", config.server.listen,
               (*server)->port(), config.storage.data_dir);

  int signal = 0;
  sigwait(&signals, &signal);
  if (signal != kRecoveryFailedSignal) {
    spdlog::info("signal {}: shutting down (grace {} s)", signal,
                 config.server.shutdown_grace_seconds);
  }
  absl::Status closed =
      (*server)->Shutdown(absl::Seconds(config.server.shutdown_grace_seconds));
  if (!closed.ok()) {
    spdlog::error("closing the engine: {}", closed.ToString());
    return 1;
  }
  if (recovery_failed) return 1;
  spdlog::info("ragd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
