// tokenizer_bench: MB/s of ragd's cl100k_base and o200k_base tokenizers (models/tokenizer.h) on
// Korean (the sample corpus in tests/models/data/corpus) and English (Debian's python3.11-doc
// reST sources, skipped with a message when absent), and of the
// reference js-tiktoken on the same files in the same run (bench/js_tiktoken_bench.mjs, started
// as a child process). Also checks that both produce the same number of tokens. See
// bench/README.md.
//
// Output: JSON lines (stdout and --out). Progress goes to stderr.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "common/utf8.h"
#include "models/tokenizer.h"

#ifndef RAGD_BENCH_SOURCE_DIR
#define RAGD_BENCH_SOURCE_DIR "."
#endif

namespace ragd::bench {
namespace {

constexpr double kSpeedRatioTarget = 1.0;  // issue #3: at least as fast as js-tiktoken

void Log(const std::string& message) { std::cerr << "tokenizer_bench: " << message << std::endl; }

struct Corpus {
  std::string name;
  std::vector<std::string> files;
  std::vector<std::string> texts;
  size_t bytes = 0;
};

// Reads `files` (valid UTF-8 only: js-tiktoken would see U+FFFD where ragd sees bytes), until
// `max_bytes` (0: no cap).
Corpus LoadCorpus(const std::string& name, const std::vector<std::string>& files,
                  size_t max_bytes) {
  Corpus c;
  c.name = name;
  for (const std::string& f : files) {
    std::string text;
    if (!ReadWholeFile(f, &text) || text.empty() || !IsValidUtf8(text)) continue;
    if (max_bytes > 0 && c.bytes + text.size() > max_bytes && !c.texts.empty()) break;
    c.bytes += text.size();
    c.files.push_back(f);
    c.texts.push_back(std::move(text));
  }
  return c;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out += ch;
    }
  }
  return out + "'";
}

int Run(int argc, char** argv) {
  const std::string source_dir = RAGD_BENCH_SOURCE_DIR;
  std::string korean_dir = source_dir + "/tests/models/data/corpus";
  std::string english_dir = "/usr/share/doc/python3.11/html/_sources";
  std::string out = source_dir + "/bench/results/tokenizer.jsonl";
  std::string js_script = source_dir + "/bench/js_tiktoken_bench.mjs";
  std::string node = "node";
  size_t max_bytes = 0;
  double min_seconds = 2.0;
  int max_passes = 200;
  double max_seconds = 60;
  bool skip_js = false;

  CLI::App app("tokenizer_bench: ragd's tokenizers vs js-tiktoken, MB/s", "tokenizer_bench");
  app.add_option("--korean-dir", korean_dir, "Korean Markdown (*.md)")->capture_default_str();
  app.add_option("--english-dir", english_dir, "English reST sources (*.txt, recursive)")
      ->capture_default_str();
  app.add_option("--max-bytes", max_bytes, "cap per corpus (0: all files)")->capture_default_str();
  app.add_option("--min-seconds", min_seconds, "minimum timed duration per measurement")
      ->capture_default_str();
  app.add_option("--max-passes", max_passes, "most passes over a corpus per measurement")
      ->capture_default_str();
  app.add_option("--max-seconds", max_seconds, "most seconds per measurement")
      ->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)")
      ->capture_default_str();
  app.add_option("--js-script", js_script, "js-tiktoken side")->capture_default_str();
  app.add_option("--node", node, "Node.js executable")->capture_default_str();
  app.add_flag("--skip-js", skip_js, "measure ragd only");
  CLI11_PARSE(app, argc, argv);
  if (min_seconds < 0 || max_passes < 1 || max_seconds <= 0) {
    std::cerr << "tokenizer_bench: need --min-seconds >= 0, --max-passes >= 1, --max-seconds > 0\n";
    return 2;
  }

  // The Korean corpus is in the repository; the English one is a Debian package that
  // scripts/bench.sh installs when it can. A corpus with no readable file is skipped.
  std::vector<Corpus> corpora;
  for (auto [name, dir, ext] :
       {std::tuple<std::string, std::string, std::string>{"korean", korean_dir, ".md"},
        {"english", english_dir, ".txt"}}) {
    Corpus c = LoadCorpus(name, ListFiles(dir, ext), max_bytes);
    if (c.texts.empty()) {
      Log("no readable UTF-8 " + ext + " file under " + dir + ": corpus " + name + " skipped" +
          (name == "english" ? " (apt-get install python3.11-doc)" : ""));
      continue;
    }
    corpora.push_back(std::move(c));
  }
  if (corpora.empty()) {
    std::cerr << "tokenizer_bench: no corpus to measure (--korean-dir / --english-dir)\n";
    return 2;
  }

  Report report(out);
  report.Write(HardwareRecord(source_dir));
  for (const Corpus& c : corpora) {
    report.Write({{"bench", "tokenizer_corpus"},
                  {"system", "host"},
                  {"threads", 1},
                  {"corpus", c.name},
                  {"files", c.files.size()},
                  {"bytes", c.bytes},
                  {"source", c.name == "korean" ? korean_dir : english_dir}});
  }

  // ragd: one thread, whole passes, ids materialized (as js-tiktoken returns them).
  const std::vector<std::pair<std::string, models::Encoding>> encodings = {
      {"cl100k_base", models::Encoding::kCl100kBase}, {"o200k_base", models::Encoding::kO200kBase}};
  std::map<std::pair<std::string, std::string>, nlohmann::json> ragd_records;
  for (const Corpus& c : corpora) {
    for (const auto& [name, encoding] : encodings) {
      const models::Tokenizer& tok = models::Tokenizer::Get(encoding);
      size_t tokens = 0;
      for (const std::string& t : c.texts) tokens += tok.Encode(t).size();  // warm-up, count
      int passes = 0;
      double seconds = 0;
      Clock::time_point start = Clock::now();
      while (passes < max_passes && seconds < max_seconds && (passes == 0 || seconds < min_seconds)) {
        for (const std::string& t : c.texts) {
          std::vector<uint32_t> ids = tok.Encode(t);
          if (ids.empty()) std::abort();  // keeps the call from being optimized away
        }
        ++passes;
        seconds = SecondsSince(start);
      }
      nlohmann::json r = {{"bench", "tokenizer"},
                          {"system", "ragd"},
                          {"threads", 1},
                          {"corpus", c.name},
                          {"encoding", name},
                          {"files", c.texts.size()},
                          {"bytes", c.bytes},
                          {"tokens", tokens},
                          {"passes", passes},
                          {"seconds", seconds},
                          {"mb_per_second", static_cast<double>(c.bytes) * passes / seconds / 1e6},
                          {"load_average_1m", LoadAverage1()}};
      report.Write(r);
      ragd_records[{c.name, name}] = r;
    }
  }

  nlohmann::json targets = {{"bench", "targets"}, {"system", "ragd"}, {"threads", 1}};
  if (skip_js) {
    report.Write(targets);
    return 0;
  }

  // The same files, listed in a manifest, for the Node side.
  nlohmann::json manifest = {{"encodings", {"cl100k_base", "o200k_base"}},
                             {"min_seconds", min_seconds},
                             {"max_passes", max_passes},
                             {"max_seconds", max_seconds},
                             {"corpora", nlohmann::json::array()}};
  for (const Corpus& c : corpora) {
    manifest["corpora"].push_back({{"name", c.name}, {"files", c.files}});
  }
  std::string manifest_path = (std::filesystem::temp_directory_path() /
                               ("ragd-tokenizer-bench-" + std::to_string(getpid()) + ".json"))
                                  .string();
  std::ofstream(manifest_path) << manifest.dump();
  // `timeout` bounds the child: 4 measurements, each at most max_seconds plus the warm-up.
  const int limit = static_cast<int>(8 * max_seconds) + 120;
  const std::string command = "timeout --kill-after=10 " + std::to_string(limit) + " " +
                              ShellQuote(node) + " " + ShellQuote(js_script) + " " +
                              ShellQuote(manifest_path);
  Log("running " + command);
  FILE* pipe = popen(command.c_str(), "r");
  std::string js_error;
  int js_records = 0;
  if (pipe == nullptr) {
    js_error = "cannot start node";
  } else {
    char buffer[4096];
    std::string line;
    while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
      line += buffer;
      if (line.empty() || line.back() != '\n') continue;
      nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      line.clear();
      if (r.is_discarded() || !r.contains("corpus")) continue;
      r["load_average_1m"] = LoadAverage1();
      report.Write(r);
      ++js_records;
      auto it = ragd_records.find({r["corpus"].get<std::string>(), r["encoding"].get<std::string>()});
      if (it == ragd_records.end()) continue;
      const nlohmann::json& ragd = it->second;
      const double ratio = ragd["mb_per_second"].get<double>() / r["mb_per_second"].get<double>();
      const bool same_bytes = ragd["bytes"] == r["bytes"];
      const bool same_tokens = ragd["tokens"] == r["tokens"];
      report.Write({{"bench", "tokenizer_ratio"},
                    {"system", "ragd"},
                    {"threads", 1},
                    {"corpus", r["corpus"]},
                    {"encoding", r["encoding"]},
                    {"ragd_mb_per_second", ragd["mb_per_second"]},
                    {"js_tiktoken_mb_per_second", r["mb_per_second"]},
                    {"speed_ratio", ratio},
                    {"same_bytes", same_bytes},
                    {"same_token_count", same_tokens},
                    {"ragd_tokens", ragd["tokens"]},
                    {"js_tiktoken_tokens", r["tokens"]}});
      const std::string key = "speed_ratio_" + r["corpus"].get<std::string>() + "_" +
                              r["encoding"].get<std::string>();
      targets[key] = {{"value", ratio},
                      {"target", kSpeedRatioTarget},
                      {"met", ratio >= kSpeedRatioTarget}};
      targets["same_token_count_" + r["corpus"].get<std::string>() + "_" +
              r["encoding"].get<std::string>()] = {
          {"value", same_tokens}, {"target", true}, {"met", same_tokens && same_bytes}};
    }
    const int status = pclose(pipe);
    if (status != 0) js_error = "node exited with status " + std::to_string(status);
  }
  std::error_code ec;
  std::filesystem::remove(manifest_path, ec);
  if (js_records != static_cast<int>(corpora.size() * encodings.size())) {
    if (js_error.empty()) js_error = "js-tiktoken gave " + std::to_string(js_records) + " records";
    report.Write({{"bench", "error"}, {"system", "js-tiktoken"}, {"threads", 1},
                  {"error", js_error + " (npm ci --prefix bench first)"}});
  }
  report.Write(targets);
  return js_error.empty() ? 0 : 1;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) { return ragd::bench::Run(argc, argv); }
