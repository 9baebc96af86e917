// Hash64 values are persisted (shard routing, checksums): they are pinned here so that an
// algorithm or seed change fails the build instead of silently re-routing stored points.

#include "common/hash.h"

#include <string>

#include <gtest/gtest.h>

namespace ragd {
namespace {

TEST(HashTest, PinnedValues) {
  // XXH3-64, seed 0. The empty-input value is the one published with the xxHash spec.
  EXPECT_EQ(Hash64(std::string_view()), 0x2D06800538D394C2ull);
  EXPECT_EQ(Hash64("ragd"), 0x643EAEFEE33926FAull);
  EXPECT_EQ(Hash64("ragd", 4), Hash64(std::string_view("ragd")));
}

TEST(HashTest, DifferentInputsDiffer) {
  EXPECT_NE(Hash64("a"), Hash64("b"));
  EXPECT_NE(Hash64("ab"), Hash64("ba"));
  EXPECT_NE(Hash64(std::string_view("\0", 1)), Hash64(std::string_view()));
}

TEST(HashTest, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  // Piece sizes that cross XXH3's internal 64-byte stripes and 1 KiB blocks.
  for (size_t piece : {1u, 3u, 64u, 100u, 1024u, 4999u}) {
    Hasher64 h;
    for (size_t off = 0; off < data.size(); off += piece) {
      h.Update(std::string_view(data).substr(off, piece));
    }
    EXPECT_EQ(h.Digest(), Hash64(data)) << "piece " << piece;
  }
  Hasher64 empty;
  EXPECT_EQ(empty.Digest(), Hash64(std::string_view()));
  Hasher64 twice;
  twice.Update("rag");
  EXPECT_EQ(twice.Digest(), Hash64("rag"));  // Digest does not consume the state
  twice.Update("d");
  EXPECT_EQ(twice.Digest(), Hash64("ragd"));
}

}  // namespace
}  // namespace ragd
