#pragma once
// The entries of the replicated log as plain engine types, and their encoding. The wire format
// (proto/ragd/cluster/v1/log.proto) is private to this folder: no generated type appears here.
//
// Thread safety: free functions without shared state.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "index/types.h"

namespace ragd::cluster {

// Upserts, deletes and aux records of one collection, applied as one index::WriteBatch whose
// sequence is the stream sequence of the entry.
struct PointWrite {
  std::vector<index::Point> upserts;
  std::vector<std::string> deletes;
  std::vector<index::AuxWrite> aux;
};

// Catalog entries.
struct CreateCollection {
  index::CollectionSpec spec;
};
struct DeleteCollection {
  std::string name;
};

struct LogEntry {
  // The request id the message id was derived from (logs, tracing); may be empty.
  std::string request_id;
  std::variant<PointWrite, CreateCollection, DeleteCollection> op;
};

// Never fails for entries the engine accepts; INVALID_ARGUMENT when the encoding would exceed
// protobuf's 2 GiB limit.
absl::StatusOr<std::string> EncodeLogEntry(const LogEntry& entry);

// DATA_LOSS naming what is wrong when `bytes` is not a LogEntry (does not parse, no operation,
// unknown metric or index kind). Values are not validated here: the engine does that on apply.
// Never throws, never crashes on any input.
absl::StatusOr<LogEntry> DecodeLogEntry(std::string_view bytes);

}  // namespace ragd::cluster
