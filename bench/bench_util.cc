#include "bench/bench_util.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <sstream>
#include <thread>

#ifndef RAGD_BENCH_FLAGS
#define RAGD_BENCH_FLAGS "unknown"
#endif
#ifndef RAGD_BENCH_VARIANT
#define RAGD_BENCH_VARIANT "unknown"
#endif

namespace ragd::bench {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Value of the first "key: value" line of a /proc file whose key matches.
std::string ProcField(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  for (int guard = 0; guard < 100000 && std::getline(in, line); ++guard) {
    if (line.rfind(key, 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    size_t start = value.find_first_not_of(" \t");
    return start == std::string::npos ? "" : value.substr(start);
  }
  return "";
}

// Runs a short, fixed command (git) and returns its first output line; "" on failure.
std::string CommandLine1(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char buffer[256] = {0};
  std::string out;
  if (fgets(buffer, sizeof(buffer), pipe) != nullptr) out = buffer;
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

ContextSwitches ProcessContextSwitches(int pid) {
  ContextSwitches total;
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    const int tid = std::atoi(task.path().filename().c_str());
    std::ifstream in(task.path() / "status");
    std::string line;
    uint64_t voluntary = 0, involuntary = 0;
    while (std::getline(in, line)) {
      // "voluntary_ctxt_switches:\t123" and "nonvoluntary_ctxt_switches:\t4".
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, colon);
      if (key != "voluntary_ctxt_switches" && key != "nonvoluntary_ctxt_switches") continue;
      const uint64_t value = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
      (key == "voluntary_ctxt_switches" ? voluntary : involuntary) = value;
    }
    total.voluntary += voluntary;
    total.involuntary += involuntary;
    total.by_task[tid] = {voluntary, involuntary};
  }
  return total;
}

ContextSwitches SwitchesBetween(const ContextSwitches& start, const ContextSwitches& end) {
  ContextSwitches diff;
  for (const auto& [tid, counts] : end.by_task) {
    const auto before = start.by_task.find(tid);
    const uint64_t voluntary0 = before == start.by_task.end() ? 0 : before->second.first;
    const uint64_t involuntary0 = before == start.by_task.end() ? 0 : before->second.second;
    // A thread id reused by a new thread can read lower than at `start`: count it from 0.
    diff.voluntary += counts.first >= voluntary0 ? counts.first - voluntary0 : counts.first;
    diff.involuntary +=
        counts.second >= involuntary0 ? counts.second - involuntary0 : counts.second;
  }
  return diff;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

namespace {
// The fields of /proc/<pid>/stat after the command name, i.e. field 3 (state) first. Field 2
// (comm) may contain spaces and parentheses: the split is after the last ')'. Empty when
// unreadable.
std::vector<std::string> StatFieldsAfterComm(int pid) {
  std::string stat = ReadFirstLine("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(std::move(field));
  return fields;
}
}  // namespace

double ProcessCpuSeconds(int pid) {
  // utime and stime are fields 14 and 15, i.e. the 12th and 13th from the state field.
  const std::vector<std::string> f = StatFieldsAfterComm(pid);
  if (f.size() < 13) return -1;
  const uint64_t utime = std::stoull(f[11]);
  const uint64_t stime = std::stoull(f[12]);
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t ProcessMinorFaults(int pid) {
  // minflt is field 10, the 8th from the state field.
  const std::vector<std::string> f = StatFieldsAfterComm(pid);
  return f.size() < 8 ? 0 : std::strtoull(f[7].c_str(), nullptr, 10);
}

uint64_t SelfRssBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t ProcessRssBytes(int pid) {
  std::string value = ProcField("/proc/" + std::to_string(pid) + "/status", "VmRSS");
  if (value.empty()) return 0;
  return std::stoull(value) * 1024;  // "123456 kB"
}

double WaitProcessIdle(int pid, double window, double busy_fraction, double max_seconds,
                       bool* settled) {
  Clock::time_point start = Clock::now();
  *settled = false;
  double cpu = ProcessCpuSeconds(pid);
  while (cpu >= 0 && SecondsSince(start) < max_seconds) {
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    const double now = ProcessCpuSeconds(pid);
    if (now < 0) break;
    if (now - cpu < busy_fraction * window) {
      *settled = true;
      break;
    }
    cpu = now;
  }
  return SecondsSince(start);
}

void TrimHeap() { malloc_trim(0); }

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix,
                                   size_t max_files) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const std::string path = it->path().string();
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  if (max_files > 0 && files.size() > max_files) files.resize(max_files);
  return files;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = std::move(buffer).str();
  return !in.bad();
}

LoadResult RunQueryLoad(size_t num_queries, size_t k, const LoadOptions& options,
                        const ThreadInitFn& init, const QueryFn& query) {
  LoadResult result;
  result.threads = options.threads;
  result.first_results.assign(num_queries * k, -1);
  if (num_queries == 0 || options.threads <= 0) return result;

  const size_t max_ops = num_queries * static_cast<size_t>(std::max(1, options.max_passes));
  std::atomic<size_t> next{0};
  std::atomic<size_t> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(options.threads));
  std::latch ready(options.threads + 1);
  Clock::time_point start;
  std::atomic<bool> started{false};

  auto worker = [&](int t) {
    if (init) init(t);
    std::vector<int64_t> scratch(k, -1);
    std::vector<double>& lat = latencies[static_cast<size_t>(t)];
    lat.reserve(max_ops / static_cast<size_t>(options.threads) + 1);
    ready.arrive_and_wait();
    while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= max_ops) break;
      double elapsed = SecondsSince(start);
      // The first pass always completes (recall needs every query); later passes only until
      // the minimum duration, and nothing goes past the hard limit.
      if (i >= num_queries && elapsed >= options.min_seconds) break;
      if (elapsed >= options.max_seconds) break;
      size_t q = i % num_queries;
      int64_t* out = i < num_queries ? &result.first_results[q * k] : scratch.data();
      Clock::time_point t0 = Clock::now();
      bool ok = query(t, q, out);
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (ok) {
        lat.push_back(ms);
      } else {
        errors.fetch_add(1, std::memory_order_relaxed);
        if (i < num_queries) std::fill(out, out + k, -1);
      }
    }
  };

  std::vector<std::thread> pool;
  for (int t = 0; t < options.threads; ++t) pool.emplace_back(worker, t);
  ready.arrive_and_wait();
  start = Clock::now();
  started.store(true, std::memory_order_release);
  for (std::thread& th : pool) th.join();
  result.seconds = SecondsSince(start);

  std::vector<double> all;
  for (const std::vector<double>& lat : latencies) all.insert(all.end(), lat.begin(), lat.end());
  std::sort(all.begin(), all.end());
  result.ops = all.size();
  result.errors = errors.load();
  result.qps = result.seconds > 0 ? static_cast<double>(result.ops) / result.seconds : 0;
  result.p50_ms = Percentile(all, 0.50);
  result.p99_ms = Percentile(all, 0.99);
  double sum = 0;
  for (double v : all) sum += v;
  result.mean_ms = all.empty() ? 0 : sum / static_cast<double>(all.size());
  return result;
}

Report::Report(const std::string& path) : path_(path) {
  if (path_.empty()) return;
  std::filesystem::path p(path_);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  out_.open(path_, std::ios::trunc);
  if (!out_) std::cerr << "bench: cannot write " << path_ << ", stdout only\n";
}

void Report::Write(const nlohmann::json& record) {
  std::string line = record.dump();
  std::cout << line << std::endl;
  if (out_) out_ << line << std::endl;
}

double LoadAverage1() {
  std::istringstream in(ReadFirstLine("/proc/loadavg"));
  double load = -1;
  in >> load;
  return load;
}

nlohmann::json HardwareRecord(const std::string& source_dir) {
  nlohmann::json h;
  h["bench"] = "hardware";
  h["system"] = "host";
  h["threads"] = std::thread::hardware_concurrency();
  h["cpu_model"] = ProcField("/proc/cpuinfo", "model name");
  h["cpu_flags_avx2"] = __builtin_cpu_supports("avx2") != 0;
  h["cpu_flags_avx512f"] = __builtin_cpu_supports("avx512f") != 0;
  std::string mem_kb = ProcField("/proc/meminfo", "MemTotal");
  h["memory_bytes"] = mem_kb.empty() ? 0 : std::stoull(mem_kb) * 1024;
  h["kernel"] = ReadFirstLine("/proc/sys/kernel/osrelease");
  h["compiler"] = std::string("gcc ") + __VERSION__;
  h["compiler_flags"] = RAGD_BENCH_FLAGS;
  h["variant"] = RAGD_BENCH_VARIANT;
  h["git_commit"] = CommandLine1("git -C '" + source_dir + "' rev-parse --short HEAD 2>/dev/null");
  // Other engineers' uncommitted work also counts as dirty: the flag says the tree is not
  // exactly the commit, not that the benchmark changed.
  h["git_dirty"] = !CommandLine1("git -C '" + source_dir +
                                 "' status --porcelain --untracked-files=no 2>/dev/null")
                        .empty();
  h["load_average_1m"] = LoadAverage1();
  return h;
}

nlohmann::json SearchRecord(const std::string& system, int threads, size_t ef, size_t n,
                            double recall, const LoadResult& r) {
  return {
      {"bench", "search"},
      {"system", system},
      {"threads", threads},
      {"ef", ef},
      {"n", n},
      {"recall_at_10", recall},
      {"qps", r.qps},
      {"p50_ms", r.p50_ms},
      {"p99_ms", r.p99_ms},
      {"mean_ms", r.mean_ms},
      {"ops", r.ops},
      {"errors", r.errors},
      {"seconds", r.seconds},
      {"load_average_1m", LoadAverage1()},
  };
}

nlohmann::json Target(double value, double target, bool at_least) {
  return {{"value", value},
          {"target", target},
          {"at_least", at_least},
          {"met", at_least ? value >= target : value <= target}};
}

}  // namespace ragd::bench
