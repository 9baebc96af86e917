#include "cli/ragctl_retrieval.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <map>
#include <ostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/cli_json.h"
#include "cli/cli_output.h"
#include "cli/ragctl_channel.h"

namespace ragd::cli {
namespace {

constexpr size_t kTextColumnChars = 100;

// "Title — Models > Embeddings (p. 3)"; the parts a chunk lacks are left out.
std::string CitationLine(const v1::Citation& c) {
  std::string line = c.title().empty() ? c.document_id() : c.title();
  if (!c.heading_path().empty()) {
    absl::StrAppend(&line, " — ", absl::StrJoin(c.heading_path(), " > "));
  }
  if (c.has_page()) absl::StrAppend(&line, " (p. ", c.page(), ")");
  return line;
}

// "doc.md#4, bytes 120-980"
std::string LocationLine(const v1::RetrievedChunk& chunk) {
  const v1::Citation& c = chunk.citation();
  std::string line = chunk.id();
  if (c.has_byte_begin() && c.has_byte_end()) {
    absl::StrAppend(&line, ", bytes ", c.byte_begin(), "-", c.byte_end());
  }
  return line;
}

std::string Millis(int64_t micros) { return absl::StrFormat("%.1f", micros / 1000.0); }

std::string UsageLine(const v1::AnswerFinal& f) {
  const v1::Usage& u = f.usage();
  std::string line = absl::StrCat(f.model(), ": ");
  if (f.status_code() != 0) {
    absl::StrAppend(&line, StatusCodeName(static_cast<grpc::StatusCode>(f.status_code())), ": ",
                    OneLine(f.status_message(), 300), "; ");
  }
  absl::StrAppend(
      &line, "finish=", f.finish_reason().empty() ? "-" : f.finish_reason(),
      " tokens prompt=", u.prompt_tokens(), " completion=", u.completion_tokens(),
      " total=", u.total_tokens(), u.counted_locally() ? " (counted locally)" : "",
      absl::StrFormat(" cost=$%.6f", f.cost_usd()), " ttft=", Millis(f.time_to_first_token_us()),
      "ms", " latency=", Millis(f.latency_us()), "ms", " sources=", f.prompt().sources_used());
  if (f.prompt().dropped_chunk_ids_size() > 0) {
    absl::StrAppend(&line, " dropped=", f.prompt().dropped_chunk_ids_size());
  }
  return line;
}

// Prints the answers of several models: in turn on a terminal, interleaved line by line with
// a "model| " prefix otherwise.
class AnswerPrinter {
 public:
  AnswerPrinter(std::ostream& out, std::vector<std::string> models, bool in_turn)
      : out_(out),
        models_(std::move(models)),
        in_turn_(in_turn),
        text_(models_.size()),
        printed_(models_.size(), 0),
        done_(models_.size(), false) {}

  void Delta(const std::string& model, const std::string& text) {
    size_t i = Index(model);
    text_[i] += text;
    Flush(false);
  }
  void Final(const std::string& model) {
    done_[Index(model)] = true;
    Flush(false);
  }
  void End() { Flush(true); }

 private:
  size_t Index(const std::string& model) {
    for (size_t i = 0; i < models_.size(); ++i) {
      if (models_[i] == model) return i;
    }
    models_.push_back(model);  // the server's default model when none was named
    text_.emplace_back();
    printed_.push_back(0);
    done_.push_back(false);
    return models_.size() - 1;
  }

  void Flush(bool end) {
    if (models_.size() == 1) {
      out_ << text_[0].substr(printed_[0]);
      printed_[0] = text_[0].size();
      out_.flush();
      return;
    }
    if (in_turn_) {
      while (current_ < models_.size()) {
        if (printed_[current_] == 0 && !header_printed_) {
          out_ << "== " << models_[current_] << " ==\n";
          header_printed_ = true;
        }
        out_ << text_[current_].substr(printed_[current_]);
        printed_[current_] = text_[current_].size();
        if (!done_[current_] && !end) break;
        out_ << "\n\n";
        ++current_;
        header_printed_ = false;
      }
      out_.flush();
      return;
    }
    for (size_t i = 0; i < models_.size(); ++i) {
      size_t nl;
      while ((nl = text_[i].find('\n', printed_[i])) != std::string::npos) {
        out_ << models_[i] << "| " << text_[i].substr(printed_[i], nl - printed_[i]) << "\n";
        printed_[i] = nl + 1;
      }
      if ((done_[i] || end) && printed_[i] < text_[i].size()) {
        out_ << models_[i] << "| " << text_[i].substr(printed_[i]) << "\n";
        printed_[i] = text_[i].size();
      }
    }
    out_.flush();
  }

  std::ostream& out_;
  std::vector<std::string> models_;
  const bool in_turn_;
  std::vector<std::string> text_;
  std::vector<size_t> printed_;
  std::vector<bool> done_;
  size_t current_ = 0;
  bool header_printed_ = false;
};

}  // namespace

RetrievalCommands::RetrievalCommands(GlobalOptions options, std::ostream& out, std::ostream& err)
    : options_(std::move(options)), out_(out), err_(err) {
  stub_ = v1::Retrieval::NewStub(CreateRagdChannel(options_, grpc::ChannelArguments()));
}

int RetrievalCommands::Search(const TextSearchOptions& o) {
  v1::RetrieveRequest request;
  request.set_collection(o.collection);
  request.set_query(o.query);
  request.set_k(o.k);
  if (!o.filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(o.filter_json);
    if (!filter.ok()) {
      err_ << "ragctl: " << filter.status().message() << "\n";
      return kExitUsage;
    }
    *request.mutable_filter() = *std::move(filter);
  }
  if (o.min_score) request.set_min_score(*o.min_score);
  v1::SearchMode mode;
  if (absl::Status s = ApplySearchModeFlags(o.modes, &mode, request.mutable_fusion()); !s.ok()) {
    err_ << "ragctl: " << s.message() << "\n";
    return kExitUsage;
  }
  request.set_mode(mode);
  ApplyReadConsistency(options_, &request);
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  v1::RetrieveResponse response;
  grpc::Status status = stub_->Retrieve(&context, request, &response);
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  WarnPartial(err_, response.coverage());
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/false) << "\n";
    return 0;
  }
  int n = 0;
  for (const v1::RetrievedChunk& chunk : response.chunks()) {
    const std::string legs = LegsSummary(chunk.has_vector_leg() ? &chunk.vector_leg() : nullptr,
                                         chunk.has_text_leg() ? &chunk.text_leg() : nullptr);
    out_ << "[" << ++n << "] " << absl::StrFormat("%.4f", chunk.score()) << "  "
         << CitationLine(chunk.citation()) << "  (" << LocationLine(chunk)
         << (legs.empty() ? "" : "; " + legs) << ")\n"
         << "    " << OneLine(chunk.text(), kTextColumnChars) << "\n";
  }
  if (n == 0) out_ << "no results\n";
  return 0;
}

int RetrievalCommands::Ask(const AskOptions& o) {
  v1::AnswerRequest request;
  request.set_collection(o.collection);
  ApplyReadConsistency(options_, &request);
  request.set_question(o.question);
  for (const std::string& m : o.models) request.add_models(m);
  v1::RetrievalOptions* r = request.mutable_retrieval();
  r->set_k(o.k);
  if (!o.filter_json.empty()) {
    absl::StatusOr<v1::Filter> filter = ParseFilter(o.filter_json);
    if (!filter.ok()) {
      err_ << "ragctl: " << filter.status().message() << "\n";
      return kExitUsage;
    }
    *r->mutable_filter() = *std::move(filter);
  }
  if (o.min_score) r->set_min_score(*o.min_score);
  v1::SearchMode mode;
  if (absl::Status s = ApplySearchModeFlags(o.modes, &mode, r->mutable_fusion()); !s.ok()) {
    err_ << "ragctl: " << s.message() << "\n";
    return kExitUsage;
  }
  r->set_mode(mode);
  if (o.temperature) request.mutable_generation()->set_temperature(*o.temperature);
  request.mutable_generation()->set_max_output_tokens(o.max_output_tokens);

  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  std::unique_ptr<grpc::ClientReader<v1::AnswerEvent>> reader = stub_->Answer(&context, request);
  AnswerPrinter printer(out_, o.models, options_.tty);
  v1::AnswerSources sources;
  std::vector<v1::AnswerFinal> finals;
  v1::AnswerEvent event;
  while (reader->Read(&event)) {
    if (options_.json) {
      out_ << ProtoJsonLine(event, /*with_defaults=*/false) << "\n";
      out_.flush();
    }
    switch (event.event_case()) {
      case v1::AnswerEvent::kSources:
        sources = event.sources();
        WarnPartial(err_, sources.coverage());
        break;
      case v1::AnswerEvent::kDelta:
        if (!options_.json) printer.Delta(event.delta().model(), event.delta().text());
        break;
      case v1::AnswerEvent::kFinal:
        finals.push_back(event.final());
        if (!options_.json) printer.Final(event.final().model());
        break;
      case v1::AnswerEvent::EVENT_NOT_SET:
        break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!options_.json) {
    printer.End();
    if (!finals.empty()) out_ << "\n";
    if (sources.sources_size() > 0) out_ << "\nSources:\n";
    for (const v1::AnswerSource& s : sources.sources()) {
      out_ << "[" << s.number() << "] " << CitationLine(s.chunk().citation()) << "  ("
           << LocationLine(s.chunk()) << ")\n";
    }
    if (!finals.empty()) out_ << "\n";
    for (const v1::AnswerFinal& f : finals) out_ << UsageLine(f) << "\n";
    if (finals.size() > 1) {
      out_ << "\n";
      Table table({"MODEL", "STATUS", "LATENCY_MS", "TTFT_MS", "PROMPT", "COMPLETION", "TOTAL",
                   "COST_USD"});
      for (const v1::AnswerFinal& f : finals) {
        table.AddRow(
            {f.model(), StatusCodeName(static_cast<grpc::StatusCode>(f.status_code())),
             Millis(f.latency_us()), Millis(f.time_to_first_token_us()),
             absl::StrCat(f.usage().prompt_tokens()), absl::StrCat(f.usage().completion_tokens()),
             absl::StrCat(f.usage().total_tokens()), absl::StrFormat("%.6f", f.cost_usd())});
      }
      table.Print(out_, options_.tty);
    }
  }
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  for (const v1::AnswerFinal& f : finals) {
    if (f.status_code() != 0) return 1;
  }
  return 0;
}

int RetrievalCommands::ListModels() {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  v1::ListModelsResponse response;
  grpc::Status status = stub_->ListModels(&context, {}, &response);
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/false) << "\n";
    return 0;
  }
  Table table({"NAME", "PROVIDER", "FAMILY", "CONTEXT", "MAX_OUTPUT", "USD_1K_IN", "USD_1K_OUT",
               "TOKENIZER", "DEFAULT"});
  for (const v1::ModelInfo& m : response.models()) {
    table.AddRow({m.name(), m.provider(), m.family(), absl::StrCat(m.context_window()),
                  absl::StrCat(m.max_output_tokens()),
                  absl::StrFormat("%g", m.price_per_1k_input()),
                  absl::StrFormat("%g", m.price_per_1k_output()), m.tokenizer(),
                  m.name() == response.default_model() ? "*" : ""});
  }
  table.Print(out_, options_.tty);
  return 0;
}

}  // namespace ragd::cli
