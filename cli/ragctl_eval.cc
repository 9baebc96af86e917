#include "cli/ragctl_eval.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/cli_json.h"
#include "cli/cli_output.h"
#include "cli/eval_metrics.h"
#include "cli/ragctl_channel.h"
#include "ragd/v1/retrieval.grpc.pb.h"

namespace ragd::cli {
namespace {

// A system under evaluation: a retrieval mode of ragd or an external ranking.
struct System {
  std::string name;
  std::string mode;                                   // ragd modes only
  std::map<std::string, std::vector<std::string>> external;  // question id -> ranked docs
  SliceScores scores;
  std::vector<double> latencies_ms;
  std::vector<std::string> misses;
};

// Reads a JSON Lines file, calling `line_fn(line_number, line)` for each non-blank line.
// Returns false (after printing) when the file cannot be read or line_fn fails.
template <typename Fn>
bool ReadLines(const std::string& path, std::ostream& err, Fn line_fn) {
  std::ifstream in(path);
  if (!in) {
    err << "ragctl: eval: cannot read " << path << "\n";
    return false;
  }
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::Status s = line_fn(line);
    if (!s.ok()) {
      err << "ragctl: eval: " << path << ":" << number << ": " << s.message() << "\n";
      return false;
    }
  }
  return true;
}

absl::Status ApplyMode(const std::string& mode, v1::RetrieveRequest* request) {
  if (mode == "default") {
    request->set_mode(v1::SEARCH_MODE_UNSPECIFIED);  // the server's choice for the collection
  } else if (mode == "vector") {
    request->set_mode(v1::SEARCH_MODE_VECTOR);
  } else if (mode == "text") {
    request->set_mode(v1::SEARCH_MODE_TEXT);
  } else if (mode == "hybrid") {
    request->set_mode(v1::SEARCH_MODE_HYBRID);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode: expected default, vector, text, hybrid or all, got \"", mode, "\""));
  }
  return absl::OkStatus();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string Fixed(double v) { return absl::StrFormat("%.3f", v); }

}  // namespace

int Eval(const GlobalOptions& global, const EvalOptions& o, std::ostream& out,
         std::ostream& err) {
  if (o.k < 1 || o.k > 1000) {
    err << "ragctl: eval: --k must be 1..1000\n";
    return kExitUsage;
  }
  std::vector<EvalQuestion> questions;
  std::set<std::string> ids;
  if (!ReadLines(o.questions_file, err, [&](const std::string& line) -> absl::Status {
        absl::StatusOr<EvalQuestion> q = ParseEvalQuestion(line);
        if (!q.ok()) return q.status();
        if (!ids.insert(q->id).second) {
          return absl::InvalidArgumentError(absl::StrCat("id: \"", q->id, "\" repeats"));
        }
        questions.push_back(*std::move(q));
        return absl::OkStatus();
      })) {
    return kExitUsage;
  }
  if (questions.empty()) {
    err << "ragctl: eval: " << o.questions_file << " holds no question\n";
    return kExitUsage;
  }

  std::vector<std::string> modes = o.modes.empty() ? std::vector<std::string>{"default"} : o.modes;
  if (std::find(modes.begin(), modes.end(), "all") != modes.end()) {
    modes = {"vector", "text", "hybrid"};
  }
  std::vector<System> systems;
  for (const std::string& mode : modes) {
    v1::RetrieveRequest probe;
    if (absl::Status s = ApplyMode(mode, &probe); !s.ok()) {
      err << "ragctl: eval: " << s.message() << "\n";
      return kExitUsage;
    }
    System system;
    system.name = mode == "default" ? "ragd" : absl::StrCat("ragd-", mode);
    system.mode = mode;
    systems.push_back(std::move(system));
  }
  for (const std::string& spec : o.baselines) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      err << "ragctl: eval: --baseline takes NAME=FILE, got \"" << spec << "\"\n";
      return kExitUsage;
    }
    System system;
    system.name = spec.substr(0, eq);
    if (!ReadLines(spec.substr(eq + 1), err, [&](const std::string& line) -> absl::Status {
          absl::StatusOr<ExternalRanking> r = ParseExternalRanking(line);
          if (!r.ok()) return r.status();
          system.external[r->id] = std::move(r->ranked);
          return absl::OkStatus();
        })) {
      return kExitUsage;
    }
    systems.push_back(std::move(system));
  }
  std::optional<v1::Filter> filter;
  if (!o.filter_json.empty()) {
    absl::StatusOr<v1::Filter> f = ParseFilter(o.filter_json);
    if (!f.ok()) {
      err << "ragctl: eval: " << f.status().message() << "\n";
      return kExitUsage;
    }
    filter = *std::move(f);
  }

  v1::FusionOptions fusion;
  {
    SearchModeFlags only_fusion = o.fusion;
    only_fusion.mode.clear();
    v1::SearchMode unused;
    if (absl::Status s = ApplySearchModeFlags(only_fusion, &unused, &fusion); !s.ok()) {
      err << "ragctl: eval: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  const bool fusion_set = fusion.ByteSizeLong() != 0;
  auto stub = v1::Retrieval::NewStub(CreateRagdChannel(global, grpc::ChannelArguments()));
  const uint32_t fetch_k = o.fetch_k != 0 ? o.fetch_k : std::min<uint32_t>(5 * o.k, 1000);
  std::ofstream ranks;
  if (!o.ranks_file.empty()) {
    ranks.open(o.ranks_file, std::ios::trunc);
    if (!ranks) {
      err << "ragctl: eval: cannot write " << o.ranks_file << "\n";
      return kExitUsage;
    }
  }
  for (System& system : systems) {
    for (const EvalQuestion& q : questions) {
      std::vector<std::string> ranked;
      if (system.mode.empty()) {
        auto it = system.external.find(q.id);
        if (it != system.external.end()) ranked = DistinctInOrder(it->second);
      } else {
        v1::RetrieveRequest request;
        request.set_collection(o.collection);
        request.set_query(q.question);
        request.set_k(fetch_k);
        if (filter) *request.mutable_filter() = *filter;
        (void)ApplyMode(system.mode, &request);  // checked above
        if (fusion_set) *request.mutable_fusion() = fusion;
        grpc::ClientContext context;
        context.set_deadline(
            std::chrono::system_clock::now() +
            std::chrono::milliseconds(static_cast<int64_t>(global.timeout_seconds * 1000)));
        v1::RetrieveResponse response;
        const auto start = std::chrono::steady_clock::now();
        grpc::Status status = stub->Retrieve(&context, request, &response);
        system.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
        if (!status.ok()) {
          err << "ragctl: eval: question " << q.id << ": " << StatusCodeName(status.error_code())
              << ": " << OneLine(status.error_message(), 1000) << "\n";
          return ExitCodeFor(status.error_code());
        }
        std::vector<std::string> documents;
        documents.reserve(response.chunks_size());
        for (const v1::RetrievedChunk& chunk : response.chunks()) {
          documents.push_back(chunk.citation().document_id());
        }
        ranked = DistinctInOrder(documents);
      }
      if (ranked.size() > o.k) ranked.resize(o.k);
      QuestionScore score = ScoreRanking(ranked, q.expected, o.k);
      system.scores.Add(q, score);
      if (ranks.is_open()) {
        ranks << nlohmann::json({{"system", system.name},
                                 {"id", q.id},
                                 {"slices", q.slices},
                                 {"rank", score.rank},
                                 {"ranked", ranked}})
                     .dump()
              << "\n";
      }
      if ((score.rank == 0 || score.rank > 5) && system.misses.size() < o.show_misses) {
        ranked.resize(std::min<size_t>(ranked.size(), 3));
        system.misses.push_back(absl::StrCat(
            q.id, " (", score.rank == 0 ? "not in top " + std::to_string(o.k)
                                        : "rank " + std::to_string(score.rank),
            "): ", OneLine(q.question, 80), " | expected ", absl::StrJoin(q.expected, ", "),
            " | got ", ranked.empty() ? "-" : absl::StrJoin(ranked, ", ")));
      }
    }
  }

  const std::string cut = std::to_string(o.k);
  if (global.json) {
    for (const System& system : systems) {
      for (const auto& [slice, s] : system.scores.Means()) {
        nlohmann::json line = {{"system", system.name},
                               {"slice", slice},
                               {"questions", s.questions},
                               {"hit@1", s.hit1},
                               {"hit@5", s.hit5},
                               {"mrr@" + cut, s.mrr},
                               {"ndcg@" + cut, s.ndcg}};
        if (!system.latencies_ms.empty()) line["p50_ms"] = Median(system.latencies_ms);
        out << line.dump() << "\n";
      }
    }
    return 0;
  }
  // Rows grouped by slice, the systems side by side within each.
  std::map<std::string, std::vector<std::vector<std::string>>> by_slice;
  std::vector<std::string> slice_order;
  for (const System& system : systems) {
    for (const auto& [slice, s] : system.scores.Means()) {
      if (!by_slice.contains(slice)) slice_order.push_back(slice);
      by_slice[slice].push_back(
          {slice, system.name, std::to_string(s.questions), Fixed(s.hit1), Fixed(s.hit5),
           Fixed(s.mrr), Fixed(s.ndcg),
           system.latencies_ms.empty() ? "-" : absl::StrFormat("%.1f", Median(system.latencies_ms))});
    }
  }
  Table table({"SLICE", "SYSTEM", "N", "HIT@1", "HIT@5", "MRR@" + cut, "NDCG@" + cut, "P50_MS"});
  for (const std::string& slice : slice_order) {
    for (std::vector<std::string>& row : by_slice[slice]) table.AddRow(std::move(row));
  }
  table.Print(out, global.tty);
  for (const System& system : systems) {
    if (system.misses.empty()) continue;
    out << "\n" << system.name << ": answers not in the top 5\n";
    for (const std::string& miss : system.misses) out << "  " << miss << "\n";
  }
  return 0;
}

}  // namespace ragd::cli
