#include "cli/ragctl_admin.h"

#include <chrono>
#include <ostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_json.h"
#include "cli/cli_output.h"
#include "cli/ragctl_channel.h"

namespace ragd::cli {

AdminCommands::AdminCommands(GlobalOptions options, std::ostream& out, std::ostream& err)
    : options_(std::move(options)), out_(out), err_(err) {
  stub_ = v1::Admin::NewStub(CreateRagdChannel(options_, grpc::ChannelArguments()));
}

int AdminCommands::CreateSnapshot(const std::string& directory) {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  v1::CreateBackupRequest request;
  request.set_directory(directory);
  v1::CreateBackupResponse response;
  grpc::Status status = stub_->CreateBackup(&context, request, &response);
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      err_ << "ragctl: the backup may still complete on the server: it is complete once "
           << directory << "/manifest.json exists\n";
    }
    return ExitCodeFor(status.error_code());
  }
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/true) << "\n";
    return 0;
  }
  out_ << "backup written to " << response.directory() << " in "
       << absl::StrFormat("%.3f", response.seconds()) << " s (ragd " << response.ragd_version()
       << ", rocksdb sequence " << response.rocksdb_sequence() << ")\n";
  Table table({"COLLECTION", "DIMENSION", "SHARDS", "POINTS", "LAST_SEQUENCE"});
  for (const v1::BackupCollection& c : response.collections()) {
    table.AddRow({c.name(), absl::StrCat(c.dimension()), absl::StrCat(c.shards()),
                  absl::StrCat(c.points()), absl::StrCat(c.last_sequence())});
  }
  table.Print(out_, options_.tty);
  return 0;
}

int AdminCommands::Verify(const std::string& collection, uint64_t max_searches, bool skip_searches,
                          uint32_t ef) {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  v1::VerifyCollectionRequest request;
  request.set_collection(collection);
  request.set_max_searches(max_searches);
  request.set_skip_searches(skip_searches);
  request.set_ef(ef);
  v1::VerifyCollectionResponse response;
  grpc::Status status = stub_->VerifyCollection(&context, request, &response);
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/true) << "\n";
    return response.ok() ? 0 : kExitVerifyFailed;
  }
  Table table({"CHECK", "COUNT", "FIRST_IDS"});
  auto ids = [](const auto& list) {
    std::string out;
    for (int i = 0; i < list.size() && i < 5; ++i) absl::StrAppend(&out, i ? " " : "", list[i]);
    return out;
  };
  table.AddRow({"storage_points", absl::StrCat(response.storage_points()), ""});
  table.AddRow({"index_points", absl::StrCat(response.index_points()), ""});
  table.AddRow({"missing_from_index", absl::StrCat(response.missing_from_index()),
                ids(response.missing_from_index_ids())});
  table.AddRow({"missing_from_storage", absl::StrCat(response.missing_from_storage()),
                ids(response.missing_from_storage_labels())});
  table.AddRow({"missing_vectors", absl::StrCat(response.missing_vectors()),
                ids(response.missing_vector_ids())});
  table.AddRow({"searched", absl::StrCat(response.searched()), ""});
  table.AddRow(
      {"unreachable", absl::StrCat(response.unreachable()), ids(response.unreachable_ids())});
  table.AddRow({"missing_from_lexical", absl::StrCat(response.missing_from_lexical()),
                ids(response.missing_from_lexical_ids())});
  table.AddRow({"lexical_orphans", absl::StrCat(response.lexical_orphans()),
                ids(response.lexical_orphan_labels())});
  table.Print(out_, options_.tty);
  out_ << collection << ": " << (response.ok() ? "consistent" : "PROBLEMS FOUND") << " ("
       << absl::StrFormat("%.3f", response.seconds()) << " s)\n";
  return response.ok() ? 0 : kExitVerifyFailed;
}

int AdminCommands::ClusterStatus() {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  v1::ClusterStatusResponse response;
  grpc::Status status = stub_->ClusterStatus(&context, v1::ClusterStatusRequest(), &response);
  if (!status.ok()) {
    err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
         << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/true) << "\n";
    return 0;
  }
  Table table({"POD", "ADDRESS", "GROUP", "READY", "COLLECTION", "APPLIED", "HEAD", "LAG"});
  for (const v1::ClusterPodStatus& p : response.pods()) {
    const std::string ready = p.ready() ? "yes" : "no";
    table.AddRow({p.pod_id(), p.address(), absl::StrCat(p.shard_group()), ready, "(catalog)",
                  absl::StrCat(p.catalog_applied_sequence()),
                  absl::StrCat(p.catalog_applied_sequence() + p.catalog_lag()),
                  absl::StrCat(p.catalog_lag())});
    for (const v1::ClusterCollectionStatus& c : p.collections()) {
      table.AddRow({p.pod_id(), p.address(), absl::StrCat(p.shard_group()), ready,
                    c.collection(), absl::StrCat(c.applied_sequence()),
                    absl::StrCat(c.head_sequence()), absl::StrCat(c.lag())});
    }
  }
  table.Print(out_, options_.tty);
  for (const v1::ClusterPodStatus& p : response.pods()) {
    if (!p.ready()) out_ << p.pod_id() << " not ready: " << p.not_ready_reason() << "\n";
  }
  out_ << response.pods_size() << " pod(s); answered by " << response.answered_by() << "\n";
  return 0;
}

}  // namespace ragd::cli
