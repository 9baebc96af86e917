#pragma once
// ragctl's retrieval commands over ragd.v1.Retrieval: `search` (text search with citations),
// `ask` (a grounded answer, streamed; several models side by side) and `models list`. Same
// conventions as ragctl_commands.h: each returns the exit code, results go to `out`, failures
// as one line to `err`.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/ragctl_commands.h"
#include "ragd/v1/retrieval.grpc.pb.h"

namespace ragd::cli {

struct TextSearchOptions {
  std::string collection;
  std::string query;
  uint32_t k = 0;  // 0: the server's retrieval.default_k
  std::string filter_json;
  std::optional<float> min_score;
  SearchModeFlags modes;
};

struct AskOptions {
  std::string collection;
  std::string question;
  std::vector<std::string> models;  // empty: the server's default model
  uint32_t k = 0;
  std::string filter_json;
  std::optional<float> min_score;
  SearchModeFlags modes;
  std::optional<double> temperature;
  uint32_t max_output_tokens = 0;
};

class RetrievalCommands {
 public:
  RetrievalCommands(GlobalOptions options, std::ostream& out, std::ostream& err);

  int Search(const TextSearchOptions& options);
  // Streams the answer as it arrives. One model: its text, then the numbered sources and a
  // usage/cost line. Several: on a terminal each model's answer in turn (the first one live,
  // the others as soon as the previous one ends), elsewhere the lines of all models
  // interleaved, each prefixed "model| "; then the sources, a usage line per model and a
  // side-by-side table (status, latency, time to first token, tokens, cost). --json prints
  // every event as a JSON line instead. Exit code: the call's; 1 when the call succeeded but
  // a model failed.
  int Ask(const AskOptions& options);
  int ListModels();

 private:
  const GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<v1::Retrieval::Stub> stub_;
};

}  // namespace ragd::cli
