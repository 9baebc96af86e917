#pragma once
// ragctl's ingestion commands: `ingest`, `documents get|delete`, `jobs get` (over
// ragd.v1.Ingest) and `tokens` (local, no server). Exit codes as in ragctl_commands.h; `ingest`
// also exits 1 when any document failed, after listing them.
//
// `ragctl ingest` walks its paths (recursively; hidden files and directories, i.e. names
// starting with '.', are skipped, which also skips Kubernetes ConfigMap internals such as
// `..data`), keeps the files matching an --include glob (all when none) and no --exclude glob
// (globs match the path relative to the argument, '*' crossing '/', or the file name), and
// streams each file's raw bytes with its name to ragd, which loads, chunks and embeds them.
// Files whose extension names no format are reported as skipped (or sent with --format).
// While the stream runs it polls the job's progress: a redrawn progress bar on a terminal,
// a plain line every few seconds otherwise.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli/ragctl_commands.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"

namespace ragd::cli {

struct IngestOptions {
  std::vector<std::string> paths;
  std::string collection;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string format;         // empty: by extension
  std::string job_id;         // empty: a new one
  bool progress_tty = false;  // stderr is a terminal: redraw a bar
};

// The ada-002 list price used for cost estimates of remote embedders, USD per 1,000 tokens.
inline constexpr double kEmbeddingPricePer1kTokens = 0.0001;

class IngestCommands {
 public:
  IngestCommands(GlobalOptions options, std::ostream& out, std::ostream& err);

  int Ingest(const IngestOptions& options);
  int GetDocument(const std::string& collection, const std::string& document_id);
  int DeleteDocument(const std::string& collection, const std::string& document_id);
  int GetJob(const std::string& job_id);

 private:
  int Fail(const grpc::Status& status);

  const GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<v1::Ingest::Stub> stub_;
};

// `ragctl tokens`: token counts (and ids with `ids`) of each file ("-": stdin) with
// `encoding` ("cl100k_base" or "o200k_base"), counted by ragd (Retrieval.CountTokens: the
// tokenizer of its prompts, like tiktoken's encode_ordinary; ragctl links no tokenizer).
// Prints "<count>\t<file>" per file and "<total>\ttotal" for several files; with `ids`,
// "<file>\t<id> <id> ..." per file.
int CountTokens(const GlobalOptions& options, const std::vector<std::string>& files,
                const std::string& encoding, bool ids, std::ostream& out, std::ostream& err);

}  // namespace ragd::cli
