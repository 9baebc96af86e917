// In-process hnswlib built with -march=native (ragd_vector_bench_native), run as a child of the
// main bench so that its rows and ragd's come from one run. hnswlib is header-only: the build
// flags are the peer's, and on a CPU with AVX-512 -march=native gives hnswlib its AVX-512
// kernels, which the project's x86-64-v3 build does not (bench/README.md, "Session 10: AVX-512
// for float32, and hnswlib's best build in the same run"). The child reads the data set and its ground truth from the same --cache-dir, so it
// measures the same vectors against the same truth.

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/suites.h"

namespace ragd::bench {
namespace {

// Runs `args` (args[0] the executable) and waits; its exit code, or -1 when it could not run
// or died of a signal.
int RunChild(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

HnswlibFigures RunNativeHnswlibSuite(const SuiteContext& ctx, const NativeHnswlibOptions& options) {
  HnswlibFigures figures;
  auto error = [&](const std::string& why) {
    ctx.report->Write({{"bench", "error"}, {"system", kNativeHnswlibSystem}, {"threads", 0},
                       {"error", why}});
    return figures;
  };
  if (access(options.binary.c_str(), X_OK) != 0) {
    return error("no executable " + options.binary + " (build ragd_vector_bench_native)");
  }
  const std::string out = options.work_dir + "/hnswlib-native-" + std::to_string(getpid()) + ".jsonl";
  std::vector<std::string> args = {options.binary, "--skip-ragd", "--skip-faiss", "--out", out};
  args.insert(args.end(), options.args.begin(), options.args.end());
  const int code = RunChild(args);
  std::ifstream in(out);
  std::string line;
  std::string flags;
  while (std::getline(in, line)) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object()) continue;
    const std::string bench = r.value("bench", "");
    if (bench == "hardware") flags = r.value("compiler_flags", "");
    if ((bench != "build" && bench != "search") || r.value("system", "") != "hnswlib") continue;
    r["system"] = kNativeHnswlibSystem;
    r["compiler_flags"] = flags;
    if (bench == "build") {
      figures.build_seconds = r.value("build_seconds", 0.0);
      figures.rss_bytes_per_vector = r.value("rss_delta_bytes_per_vector", 0.0);
    } else if (r.value("ef", size_t{0}) == options.default_ef) {
      if (r.value("threads", 0) == ctx.search_threads.front()) {
        figures.recall_default_ef = r.value("recall_at_10", 0.0);
      }
      figures.qps_by_threads.push_back(r.value("qps", 0.0));
    }
    ctx.report->Write(r);
  }
  std::remove(out.c_str());
  if (code != 0) return error("ragd_vector_bench_native exited with " + std::to_string(code));
  if (figures.qps_by_threads.size() != ctx.search_threads.size()) {
    return error("ragd_vector_bench_native wrote no search row at the default ef for every "
                 "thread count");
  }
  figures.ran = true;
  return figures;
}

}  // namespace ragd::bench
