#pragma once
// Measurement plumbing shared by the benchmark suites: clocks, resident memory, a bounded
// multi-threaded query driver with per-query latencies, and the JSON-lines report.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ragd::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resident set size of this process from /proc/self/statm (pages x page size), bytes.
// 0 when unreadable.
uint64_t SelfRssBytes();

// VmRSS of another process from /proc/<pid>/status, bytes. 0 when unreadable.
uint64_t ProcessRssBytes(int pid);
// Waits until `pid` has used less than `busy_fraction` of one core over a whole `window`
// (its background work, e.g. RocksDB compactions after a bulk load, has finished), at most
// `max_seconds`. Returns the seconds waited; *settled says whether it went idle in time.
double WaitProcessIdle(int pid, double window, double busy_fraction, double max_seconds,
                       bool* settled);

// User + system CPU time of another process from /proc/<pid>/stat (utime + stime, all its
// threads), seconds. -1 when unreadable.
double ProcessCpuSeconds(int pid);

// Context switches of another process so far, summed over its live threads
// (/proc/<pid>/task/*/status). Voluntary ones are a thread blocking (a wait for a futex, epoll,
// a socket): per call, they count the thread hand-offs of a request, and unlike CPU time they
// hardly move with the machine's load. Involuntary ones are preemptions. Threads that exited
// are not counted; both 0 when unreadable.
struct ContextSwitches {
  uint64_t voluntary = 0;
  uint64_t involuntary = 0;
  // The same per thread id, so that a difference can skip threads that exited in between
  // (a server with a thread per connection ends one whenever a client leaves).
  std::map<int, std::pair<uint64_t, uint64_t>> by_task;
};
ContextSwitches ProcessContextSwitches(int pid);
// The switches between two readings: each thread alive at `end`, less its count at `start` (0
// if it started since). A thread that exited in between is left out, never subtracted.
ContextSwitches SwitchesBetween(const ContextSwitches& start, const ContextSwitches& end);

// Minor page faults of another process so far, all its threads (/proc/<pid>/stat, minflt): a
// server that maps fresh memory per call (a large malloc served by mmap) pays one per page.
// 0 when unreadable.
uint64_t ProcessMinorFaults(int pid);

// Value at quantile `p` (0..1, nearest rank) of an ascending vector; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

// Regular files under `dir` (recursively) whose name ends with `suffix`, sorted by path, at
// most `max_files` (0: all). Empty when `dir` does not exist.
std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix,
                                   size_t max_files = 0);

// The whole file; false when it cannot be read.
bool ReadWholeFile(const std::string& path, std::string* out);

// Gives freed heap pages back to the kernel (glibc malloc_trim), so that an RSS delta measured
// around the next build is not hidden by memory the previous one left in malloc's free lists.
void TrimHeap();

// How long a query load runs: every query once, then repeated passes until `min_seconds`
// have passed, never more than `max_passes` passes nor `max_seconds` seconds in all.
struct LoadOptions {
  int threads = 1;  // concurrent callers. Default: 1.
  // Default: 5 s. One-second windows let a single background blip of the server that was
  // just measured idle (a RocksDB compaction, a snapshot) double a 1-client row's CPU per call
  // (bench/README.md, "Session 8's make bench-quant").
  double min_seconds = 5.0;
  int max_passes = 20;       // Default: 20.
  double max_seconds = 120;  // Default: 120 s.
};

struct LoadResult {
  int threads = 0;
  size_t ops = 0;      // completed calls
  size_t errors = 0;   // failed calls (not in the latencies)
  double seconds = 0;  // wall time from the start barrier until the last thread finished
  double qps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double mean_ms = 0;
  // num_queries x k ids of the first answer to each query (-1 where missing or failed).
  std::vector<int64_t> first_results;
};

// Per-thread query function: answers query `q` into `ids` (k entries, -1 padded), returns
// false on failure. Called concurrently from `threads` threads, each with its own thread index.
using QueryFn = std::function<bool(int thread, size_t q, int64_t* ids)>;
// Runs once in each thread before the start barrier (connect, set OpenMP threads, warm up).
using ThreadInitFn = std::function<void(int thread)>;

LoadResult RunQueryLoad(size_t num_queries, size_t k, const LoadOptions& options,
                        const ThreadInitFn& init, const QueryFn& query);

// Writes each record as one JSON line to stdout and to the results file, flushed at once so
// that an interrupted run still leaves every finished measurement behind.
class Report {
 public:
  // Truncates `path`, creating its directory. An empty path writes stdout only.
  explicit Report(const std::string& path);
  void Write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// The first line of every report: CPU model, cores, memory, compiler and flags, git commit,
// load average at the start, so that results from different machines are comparable.
nlohmann::json HardwareRecord(const std::string& source_dir);

// The record every suite writes for one query load: {"bench":"search", system, threads, ef, n,
// recall_at_10, qps, p50/p99/mean ms, ops, errors, seconds, load_average_1m}. A suite adds its
// own fields (e.g. CPU per call) before writing it.
nlohmann::json SearchRecord(const std::string& system, int threads, size_t ef, size_t n,
                            double recall, const LoadResult& r);

// A target's record: {"value", "target", "at_least", "met"} (met: value >= target when
// at_least, else value <= target).
nlohmann::json Target(double value, double target, bool at_least);

// Targets at equal recall: of the sweep's points ({ef, recall, ...}) that `keep` accepts, the
// one with the lowest ef whose recall reaches `recall` (to within rounding); nullptr when none
// does.
template <typename Point, typename Keep>
const Point* LowestEfReaching(const std::vector<Point>& points, double recall, Keep keep) {
  const Point* best = nullptr;
  for (const Point& p : points) {
    if (!keep(p) || p.recall + 1e-9 < recall) continue;
    if (best == nullptr || p.ef < best->ef) best = &p;
  }
  return best;
}

// Current 1-minute load average (other work on a shared machine skews every figure).
double LoadAverage1();

}  // namespace ragd::bench
