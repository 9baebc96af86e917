#include "models/bpe_table.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "models/embedded_data.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models::internal {
namespace {

using PieceToken = BpeTable::PieceToken;

TEST(BpeTableTest, ParsesEmbeddedTables) {
  ASSERT_OK_AND_ASSIGN(auto cl100k, BpeTable::Parse(Cl100kBaseRanks()));
  EXPECT_EQ(cl100k->size(), 100256u);
  ASSERT_OK_AND_ASSIGN(auto o200k, BpeTable::Parse(O200kBaseRanks()));
  EXPECT_EQ(o200k->size(), 199998u);
  // Every token's bytes map back to its rank.
  for (uint32_t rank = 0; rank < o200k->size(); rank += 97) {
    const std::string_view bytes = o200k->Bytes(rank);
    EXPECT_EQ(o200k->Rank(bytes.data(), bytes.size()), rank);
  }
  EXPECT_EQ(cl100k->Rank("hello world, this is not a token", 31), BpeTable::kNoRank);
}

TEST(BpeTableTest, RejectsCorruptTables) {
  std::string blob(Cl100kBaseRanks());
  EXPECT_EQ(BpeTable::Parse(blob.substr(0, 16)).status().code(), absl::StatusCode::kDataLoss);
  std::string flipped = blob;
  flipped[1000] ^= 1;
  EXPECT_EQ(BpeTable::Parse(flipped).status().code(), absl::StatusCode::kDataLoss);
  std::string truncated = blob.substr(0, blob.size() - 1);
  EXPECT_EQ(BpeTable::Parse(truncated).status().code(), absl::StatusCode::kDataLoss);
  std::string bad_magic = blob;
  bad_magic[0] = 'X';
  EXPECT_EQ(BpeTable::Parse(bad_magic).status().code(), absl::StatusCode::kDataLoss);
}

// The heap merge (long pieces) must merge in exactly the quadratic merge's order.
TEST(BpeTableTest, HeapMergeAgreesWithQuadraticMerge) {
  ASSERT_OK_AND_ASSIGN(auto table, BpeTable::Parse(O200kBaseRanks()));
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = {"a",
                                             "b",
                                             "e",
                                             "n",
                                             "t",
                                             " ",
                                             "  ",
                                             "ing",
                                             "the",
                                             "\xea\xb0\x80",
                                             "\xed\x95\x9c",
                                             "0",
                                             "1",
                                             "=",
                                             "\n",
                                             "\xf0\x9f\x98\x80",
                                             "\xff"};
  for (int round = 0; round < 2000; ++round) {
    std::string piece;
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) piece += alphabet[rng() % alphabet.size()];
    if (round % 50 == 0) piece = std::string(1 + rng() % 3000, " ="[round % 2]);
    std::vector<PieceToken> quadratic;
    std::vector<PieceToken> heap;
    table->MergeQuadratic(piece, &quadratic);
    table->MergeHeap(piece, &heap);
    ASSERT_EQ(quadratic.size(), heap.size()) << piece;
    for (size_t i = 0; i < heap.size(); ++i) {
      ASSERT_EQ(quadratic[i].rank, heap[i].rank) << i;
      ASSERT_EQ(quadratic[i].end, heap[i].end) << i;
    }
    ASSERT_EQ(heap.back().end, piece.size());
  }
}

}  // namespace
}  // namespace ragd::models::internal
