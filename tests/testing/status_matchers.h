#pragma once
// ASSERT_OK / EXPECT_OK for absl::Status and absl::StatusOr (RocksDB's testharness.h style),
// printing the status message on failure.

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"

namespace ragd::testing {
inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
inline absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace ragd::testing

// The expression is evaluated once: a call with side effects (creating a stream, publishing)
// must not run a second time just to print its status, and the status printed must be the one
// that failed. Written as gtest writes its own assertions (an else-blocker and a trailing
// FAIL()/ADD_FAILURE()), so `ASSERT_OK(x) << "context";` still streams extra context.
#define RAGD_STATUS_ASSERT_(expr, fail)                                               \
  GTEST_AMBIGUOUS_ELSE_BLOCKER_                                                       \
  if (const ::absl::Status ragd_status_ = ::ragd::testing::ToStatus(expr); ragd_status_.ok()) \
    ;                                                                                 \
  else                                                                                \
    fail() << #expr << " is not OK: " << ragd_status_ << "\n"
#define ASSERT_OK(expr) RAGD_STATUS_ASSERT_(expr, FAIL)
#define EXPECT_OK(expr) RAGD_STATUS_ASSERT_(expr, ADD_FAILURE)
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                   \
  auto RAGD_CONCAT_(ragd_t_, __LINE__) = (expr);                          \
  ASSERT_TRUE(RAGD_CONCAT_(ragd_t_, __LINE__).ok())                       \
      << RAGD_CONCAT_(ragd_t_, __LINE__).status();                        \
  lhs = std::move(RAGD_CONCAT_(ragd_t_, __LINE__)).value()
