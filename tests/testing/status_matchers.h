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

#define ASSERT_OK(expr) ASSERT_TRUE(::ragd::testing::ToStatus(expr).ok()) << ::ragd::testing::ToStatus(expr)
#define EXPECT_OK(expr) EXPECT_TRUE(::ragd::testing::ToStatus(expr).ok()) << ::ragd::testing::ToStatus(expr)
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                   \
  auto RAGD_CONCAT_(ragd_t_, __LINE__) = (expr);                          \
  ASSERT_TRUE(RAGD_CONCAT_(ragd_t_, __LINE__).ok())                       \
      << RAGD_CONCAT_(ragd_t_, __LINE__).status();                        \
  lhs = std::move(RAGD_CONCAT_(ragd_t_, __LINE__)).value()
