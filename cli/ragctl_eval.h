#pragma once
// `ragctl eval QUESTIONS.jsonl --collection C`: how well a collection's retrieval finds the
// documents that answer a set of questions (metrics: eval_metrics.h). Each question is sent to
// Retrieval.Retrieve once per retrieval mode asked for; rankings made by other systems
// (--baseline NAME=FILE, e.g. SQLite FTS5 from bench/fts5_rank) are judged the same way, so
// that every row of the table comes from one run. Prints, per slice of the question set, one
// row per system: hit@1, hit@5, MRR@k, nDCG@k and the median Retrieve latency; --json prints
// one object per (system, slice) instead.
//
// Exit codes as ragctl_commands.h: 2 for an unreadable or malformed questions or baseline
// file (naming the line), the failed call's code when a Retrieve fails.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/cli_json.h"
#include "cli/ragctl_commands.h"

namespace ragd::cli {

struct EvalOptions {
  std::string questions_file;
  std::string collection;
  // Retrieval modes to evaluate, each a row: "default" (the server's choice for the
  // collection), "vector", "text", "hybrid", or "all" (every mode). Default: default.
  std::vector<std::string> modes;
  // Rank cutoff of MRR and nDCG, and the number of distinct documents judged. Default: 10.
  uint32_t k = 10;
  // Chunks asked of Retrieve per question (several chunks may share a document). 0: 5 * k,
  // at most 1000. Default: 0.
  uint32_t fetch_k = 0;
  // "NAME=FILE": an external ranking to judge beside ragd's (eval_metrics.h's format).
  std::vector<std::string> baselines;
  std::string filter_json;
  // Hybrid fusion settings sent with every hybrid (and default-mode) Retrieve: --fusion,
  // --rrf-k, --alpha, --vector-candidates, --text-candidates as in `ragctl search`; `mode` is
  // unused here (--mode above). Unset: the server's defaults. For sweeping fusion parameters.
  SearchModeFlags fusion;
  // Lists up to this many questions per system whose answer was not in the top 5.
  size_t show_misses = 0;
  // When set, a JSON Lines file with one line per system and question: {"system", "id",
  // "slices", "rank" (of the first expected document, 0 when not in the top k), "ranked" (the
  // top k documents)}, for comparing systems question by question. Default: none.
  std::string ranks_file;
};

int Eval(const GlobalOptions& global, const EvalOptions& options, std::ostream& out,
         std::ostream& err);

}  // namespace ragd::cli
