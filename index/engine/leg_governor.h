#pragma once
// LegGovernor: decides, for each hybrid search, whether to offer its text leg to an idle
// helper thread (idle_helpers.h) or to run both legs on the calling thread, from what each way
// has recently cost on this machine.
//
// Why: on an idle machine the hand-off takes a little off hybrid's latency (6% of the p50 at
// 100k in ragd_hybrid_bench, short of the slower leg alone); on a busy one it made hybrid slower, because the helper, once
// woken, may wait for a core while the caller, done with its vector leg, waits for the helper
// (bench/README.md). Neither a fixed default nor a setting the operator must retune fits both,
// so both ways are measured where they run: the cheaper one (by a moving average of the legs'
// wall time) is used, and every `explore_every`-th search takes the other, so that a change of
// load is noticed within a few hundred searches (and so rarely that the p99 of an idle
// machine is not the slower way's). Both ways are timed by real runs: an estimate of the
// sequential cost from a hand-off's parts was tried and misled on a busy machine, where the
// woken helper often preempts the caller on its own core and the caller's vector leg then
// counts the text leg a second time. Only the legs are timed; analysis, fusion and payload
// reads are the same either way.
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
    // One search in this many takes the way not preferred (>= 2).
    uint32_t explore_every = 32;
    // Weight of a new sample in its way's moving average (0, 1].
    double weight = 0.125;
  };

  LegGovernor() : LegGovernor(Options{}) {}
  explicit LegGovernor(const Options& options) : options_(options) {}

  // The way the next hybrid search should take: each way until it has a sample (hand-off
  // first), then the cheaper way, and the other on every `explore_every`-th call.
  Way Choose();
  // What a search's legs cost (nanoseconds, from the start of the vector leg to the text
  // leg's result in hand) and the way they ran: a hand-off that found no idle helper ran
  // sequentially and is recorded so. A negative duration (a clock that stepped) counts as 0.
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
