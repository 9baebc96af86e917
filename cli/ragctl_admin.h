#pragma once
// ragctl's operator commands over ragd.v1.Admin: `snapshot create DIR` asks ragd to write a
// backup into DIR on the server's filesystem (restore is ragd's --restore-from flag);
// `admin verify COLLECTION` runs ragd's self-check of a collection; `cluster status` shows
// cluster mode's pods. Same
// conventions as ragctl_commands.h: each returns the exit code, results go to `out`, failures
// as one line to `err`.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "cli/ragctl_commands.h"
#include "ragd/v1/admin.grpc.pb.h"

namespace ragd::cli {

// `admin verify` found unreachable points or storage/index mismatches.
constexpr int kExitVerifyFailed = 10;

class AdminCommands {
 public:
  AdminCommands(GlobalOptions options, std::ostream& out, std::ostream& err);

  // Prints the directory, the backup's RocksDB sequence and a table of its collections
  // (points and last write sequence); --json prints the response as one JSON object.
  int CreateSnapshot(const std::string& directory);

  // `admin verify COLLECTION`: ragd's self-check of one collection (Admin.VerifyCollection).
  // Prints the counts and the first ids of each kind of problem; exit 0 when the collection is
  // consistent, kExitVerifyFailed (10) when a problem was found, the call's code otherwise.
  int Verify(const std::string& collection, uint64_t max_searches, bool skip_searches, uint32_t ef);

  // `cluster status`: every pod of the cluster (Admin.ClusterStatus) as a table, one row per
  // pod and collection: pod, address, shard group, readiness, applied sequence, stream head
  // and lag (the catalog as collection "(catalog)"), then why each unready pod is not ready;
  // --json prints the response as one JSON object. FAILED_PRECONDITION (exit 1) against a
  // single-node ragd.
  int ClusterStatus();

 private:
  const GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

}  // namespace ragd::cli
