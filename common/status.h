#pragma once
// Error-handling helpers used below the gRPC edge. Every fallible function returns
// absl::Status or absl::StatusOr<T>; the codes are gRPC's canonical codes, so the edge
// (services/api/convert) maps them one-to-one.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd {

// "NOT_FOUND" etc.: the canonical name of a status code given as its number (the codes of
// absl::StatusCode and grpc::StatusCode are the same); "UNKNOWN" for a number outside 0..16.
// No allocation: used for every RPC's metrics and access-log line, and by ragctl's messages.
inline const char* CanonicalCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

}  // namespace ragd

#define RAGD_CONCAT_INNER_(a, b) a##b
#define RAGD_CONCAT_(a, b) RAGD_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status ragd_status_ = (expr);              \
    if (!ragd_status_.ok()) return ragd_status_;       \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, F());` binds the value of an absl::StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  RAGD_ASSIGN_OR_RETURN_IMPL_(RAGD_CONCAT_(ragd_statusor_, __LINE__), lhs, expr)
#define RAGD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
