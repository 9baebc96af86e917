// ragctl's record of write tokens (cli/session_tokens.h): per address and collection, the
// newest write wins, a damaged or missing file costs only the automatic token.

#include "cli/session_tokens.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/testing/temp_dir.h"

namespace ragd::cli {
namespace {

TEST(SessionTokensTest, KeepsTheNewestTokenPerAddressAndCollection) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "state" / "tokens.json").string();
  EXPECT_FALSE(LoadSessionToken(path, "a:1", "docs").has_value());
  ASSERT_TRUE(SaveSessionToken(path, "a:1", "docs", 5));  // creates the directory
  ASSERT_TRUE(SaveSessionToken(path, "a:1", "other", 9));
  ASSERT_TRUE(SaveSessionToken(path, "b:2", "docs", 2));
  ASSERT_TRUE(SaveSessionToken(path, "a:1", "docs", 3));  // older: kept 5
  EXPECT_EQ(LoadSessionToken(path, "a:1", "docs"), 5u);
  EXPECT_EQ(LoadSessionToken(path, "a:1", "other"), 9u);
  EXPECT_EQ(LoadSessionToken(path, "b:2", "docs"), 2u);
  ASSERT_TRUE(SaveSessionToken(path, "a:1", "docs", 12));
  EXPECT_EQ(LoadSessionToken(path, "a:1", "docs"), 12u);
  EXPECT_FALSE(SaveSessionToken(path, "a:1", "docs", 0));  // nothing written: no token
  EXPECT_FALSE(SaveSessionToken("", "a:1", "docs", 1));    // no place to keep it
}

TEST(SessionTokensTest, ADamagedFileIsTreatedAsEmpty) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "tokens.json").string();
  std::ofstream(path) << "{not json";
  EXPECT_FALSE(LoadSessionToken(path, "a:1", "docs").has_value());
  ASSERT_TRUE(SaveSessionToken(path, "a:1", "docs", 4));
  EXPECT_EQ(LoadSessionToken(path, "a:1", "docs"), 4u);
}

}  // namespace
}  // namespace ragd::cli
