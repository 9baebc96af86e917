#pragma once
// The engine as the services see it: absent while ragd recovers at start-up (Engine::Open runs
// in the background so that the health service can answer NOT_SERVING meanwhile), present while
// serving, and refused again once shutdown has begun.

#include <atomic>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"

namespace ragd::rag {

class EngineHandle {
 public:
  // UNAVAILABLE "recovering" before Set(), "shutting down" after BeginShutdown(). Thread-safe.
  absl::StatusOr<index::Engine*> Get() const {
    if (shutting_down_.load(std::memory_order_acquire)) {
      return absl::UnavailableError("shutting down");
    }
    index::Engine* engine = engine_.load(std::memory_order_acquire);
    if (engine == nullptr) return absl::UnavailableError("recovering");
    return engine;
  }
  // `engine` is not owned and must outlive every call that got it from Get().
  void Set(index::Engine* engine) { engine_.store(engine, std::memory_order_release); }
  void BeginShutdown() { shutting_down_.store(true, std::memory_order_release); }

 private:
  std::atomic<index::Engine*> engine_{nullptr};
  std::atomic<bool> shutting_down_{false};
};

}  // namespace ragd::rag
