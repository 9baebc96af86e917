#pragma once
// LegGovernor: decides, for each hybrid search, whether to offer its text leg to an idle
// helper thread (idle_helpers.h) or to run both legs on the calling thread, from what each way
// has recently cost on this machine.
//
// Why: on an idle machine the hand-off makes hybrid cost about the slower leg instead of the
// sum (ragd_hybrid_bench); on a busy one it made hybrid slower, because the helper, once
// woken, may wait for a core while the caller, done with its vector leg, waits for the helper
// (bench/README.md). Neither a fixed default nor a setting the operator must retune fits both,
// so both ways are measured where they run and the cheaper one (by a moving average of the
// legs' wall time) is used. A hand-off also tells what the legs would have cost one after the
// other: the vector leg's wall time plus the CPU time the helper spent on the text leg (CPU,
// not wall: a helper preempted mid-leg must not make sequential look dear). So while hand-offs
// win, no search is spent trying the sequential way; while sequential wins, every
// `explore_every`-th search tries a hand-off, so that a quieter machine is noticed within a
// few dozen searches. Only the legs are timed; analysis, fusion and payload reads are the same
// either way.
//
// Thread safety: every method may be called concurrently (one small mutex; a search takes it
// twice, against a search's hundreds of microseconds).

#include <cstdint>
#include <mutex>

namespace ragd::index {

class LegGovernor {
 public:
  enum class Way { kSequential, kHandOff };

  struct Options {
    // While sequential is preferred, one search in this many tries a hand-off (>= 2).
    uint32_t explore_every = 16;
    // Weight of a new sample in its way's moving average (0, 1].
    double weight = 0.125;
  };

  LegGovernor() : LegGovernor(Options{}) {}
  explicit LegGovernor(const Options& options) : options_(options) {}

  // The way the next hybrid search should take: a hand-off until both ways have a sample
  // (one hand-off gives both), then the cheaper way, with a hand-off every `explore_every`-th
  // call while sequential is the cheaper.
  Way Choose();
  // What a search's legs cost (nanoseconds, from the start of the vector leg to the text
  // leg's result in hand) and the way they ran: a hand-off that found no idle helper ran
  // sequentially and is recorded so; one the helper ran also records its sequential estimate.
  // A negative duration (a clock that stepped) counts as 0.
  void Record(Way way, int64_t nanos);

  // For tests, metrics and logs: the moving averages (0 before the first sample).
  double average_nanos(Way way) const;

 private:
  struct Average {
    double value = 0;
    bool seeded = false;
  };
  Average& of(Way way) { return way == Way::kHandOff ? hand_off_ : sequential_; }
  const Average& of(Way way) const { return way == Way::kHandOff ? hand_off_ : sequential_; }

  const Options options_;
  mutable std::mutex mu_;
  uint64_t calls_ = 0;
  Average sequential_;
  Average hand_off_;
};

}  // namespace ragd::index
