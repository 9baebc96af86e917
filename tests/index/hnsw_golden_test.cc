// HnswIndex's graph construction pinned by a hash of its snapshot (Save) after a fixed history
// of serial Adds, batch Adds, replacements and removals, for each storage kind. Any change to
// what the graph links (neighbour selection, pruning, repair, the order of ties) changes the
// hash, so a refactor of the graph code that claims to preserve behaviour is checked here.
// A fourth case (float32, coordinates in [-2, 2]) has many equal distances, so that the order
// in which candidates enter a pruning (which decides between equal ones) shows too. When the
// graph is changed on purpose, the failure prints the new hash to record.
//
// Why the hashes are the same on every build and CPU: every coordinate is a small integer, so
// every distance the graph compares (float32 L2, f16 L2, int8 L2 with scale 1) is a sum of
// integers below 2^24, exact in float whatever the summation order. hnswlib's AVX and scalar
// code (sanitizer builds compile hnswlib without its SIMD), and the quantized kernels' scalar,
// AVX2 and AVX-512 versions, therefore return the same bits. int8 gets scale 1 and mean 0
// exactly: it trains on the first Add (256 rows, in pairs v, -v, with +-127 in every
// dimension, the other rows of that Add in [-30, 30] so that 4.5 standard deviations, the
// training's floor on the range, stay below 127), so codes are the coordinates themselves. A new node is placed by its float32 row
// against the others' codes (asymmetric linking, hnsw_graph_internal.h RowDistance): for f16
// that is the same integer sum; for int8 the row becomes int16 weights (row / alpha, rounded)
// and the distance is norms minus 2 alpha times their exact integer dot product, the same
// float operations on every build (the Int8 hash was recorded again when linking became
// asymmetric, and again when the training got its floor of 4.5 standard deviations, which
// needed the narrower first rows; the other three did not change).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "index/hnsw/hnsw_index.h"
#include "index/vector_index.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index {
namespace {

constexpr size_t kDim = 16;
constexpr size_t kRows = 1400;

// splitmix64: the data must not depend on a standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough over [lo, hi] for test data.
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

// Integer rows in [-127, 127]: 16 clusters (centres in [-80, 80], noise in [-20, 20]); rows
// 0..255 come in pairs (v, -v) and rows 0 and 1 are all +127 and all -127 (see the top).
// `ties`: coordinates in [-2, 2] instead, so that many distances are equal and the order in
// which equal candidates are taken shows in the graph. `narrow_prefix`: rows 2..255 in
// [-30, 30] (still in pairs), for int8's training (see the top).
std::vector<float> IntegerRows(bool ties, bool narrow_prefix = false) {
  Rng rng(20261202);
  std::vector<float> rows(kRows * kDim);
  if (ties) {
    for (float& x : rows) x = static_cast<float>(rng.Int(-2, 2));
    return rows;
  }
  std::vector<int> centres(16 * kDim);
  for (int& c : centres) c = rng.Int(-80, 80);
  for (size_t i = 0; i < kRows; ++i) {
    const size_t cluster = rng.Next() % 16;
    for (size_t d = 0; d < kDim; ++d) {
      rows[i * kDim + d] = static_cast<float>(centres[cluster * kDim + d] + rng.Int(-20, 20));
    }
  }
  for (size_t d = 0; d < kDim; ++d) rows[d] = 127.0f;
  if (narrow_prefix) {
    for (size_t i = 2; i < 256; i += 2) {
      for (size_t d = 0; d < kDim; ++d) rows[i * kDim + d] = static_cast<float>(rng.Int(-30, 30));
    }
  }
  for (size_t i = 1; i < 256; i += 2) {
    for (size_t d = 0; d < kDim; ++d) rows[i * kDim + d] = -rows[(i - 1) * kDim + d];
  }
  return rows;
}

struct GoldenCase {
  Quantization quantization;
  bool ties;      // IntegerRows(ties, narrow_prefix)
  bool narrow_prefix;
  uint64_t hash;  // of Save()'s bytes (Int8: since asymmetric linking, above)
  std::string name;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class HnswGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(HnswGoldenTest, SnapshotHashIsPinned) {
  const GoldenCase& c = GetParam();
  const std::vector<float> data = IntegerRows(c.ties, c.narrow_prefix);
  IndexSpec spec;
  spec.kind = IndexKind::kHnsw;
  spec.m = 4;  // small lists (8 on layer 0): nearly every insert prunes a full list
  spec.ef_construction = 32;
  spec.quantization = c.quantization;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VectorIndex> index, MakeIndex(spec, kDim, Metric::kL2));
  index->SetAddThreads(2);  // the graph does not depend on it (hnsw_parallel_add_test)
  size_t row = 0;
  // Adds the next n rows under labels first_label, first_label + 1, ...
  auto add = [&](Label first_label, size_t n) {
    std::vector<Label> labels;
    for (size_t i = 0; i < n; ++i) labels.push_back(first_label + i);
    ASSERT_OK(index->Add(labels, std::span<const float>(&data[row * kDim], n * kDim)));
    row += n;
  };
  add(0, 256);  // int8 trains here; a serial prefix (the graph has < 256 linked nodes)
  for (Label l = 256; l < 456; l += 20) add(l, 20);  // serial inserts into full lists
  add(456, 400);  // batch: sub-batches, reverse links merged and pruned per target
  {  // replacements in one batch Add: labels 0, 3, 6, ... twice each (the second row wins)
    std::vector<Label> labels;
    for (size_t i = 0; i < 100; ++i) labels.insert(labels.end(), {3 * i, 3 * i});
    ASSERT_OK(index->Add(labels, std::span<const float>(&data[row * kDim], 200 * kDim)));
    row += 200;
  }
  add(1, 10);  // serial replacements of labels 1..10
  std::vector<Label> removed;
  for (Label l = 300; l < 420; l += 2) removed.push_back(l);
  ASSERT_OK(index->Remove(removed));
  add(2000, 200);  // batch into the churned graph
  add(3000, 31);   // serial (kMinBatchNodes - 1)
  ASSERT_EQ(row, 1297u);
  ASSERT_LE(row, kRows);
  EXPECT_EQ(index->size(), 856u + 231u - 60u);
  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  const uint64_t hash = Hash64(bytes);
  char hex[32];
  std::snprintf(hex, sizeof(hex), "0x%016llx", static_cast<unsigned long long>(hash));
  EXPECT_EQ(hash, c.hash) << c.name << ": the graph differs from the recorded one (hash " << hex
                          << "); record it only if the graph was changed on purpose";
}

// SetLevelSeed (bench/vector_bench --index-seeds): seed 100 is what every index uses, another
// seed gives another graph of the same data, deterministically, and the seed can only be set
// on an empty index.
TEST(HnswLevelSeedTest, SeedPicksTheGraphDeterministically) {
  const std::vector<float> data = IntegerRows(false);
  IndexSpec spec;
  spec.kind = IndexKind::kHnsw;
  spec.m = 4;
  spec.ef_construction = 32;
  auto build = [&](std::optional<uint32_t> seed) -> std::string {
    auto index = HnswIndex::Create(spec, kDim, Metric::kL2);
    EXPECT_OK(index.status());
    if (!index.ok()) return "";
    if (seed) {
      EXPECT_OK((*index)->SetLevelSeed(*seed));
    }
    std::vector<Label> labels(600);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = i;
    EXPECT_OK((*index)->Add(labels, std::span<const float>(data.data(), 600 * kDim)));
    std::string bytes;
    EXPECT_OK((*index)->Save(&bytes));
    return bytes;
  };
  const std::string unseeded = build(std::nullopt);
  ASSERT_FALSE(unseeded.empty());
  EXPECT_EQ(build(100), unseeded);
  const std::string seven = build(7);
  EXPECT_NE(seven, unseeded);
  EXPECT_EQ(build(7), seven);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HnswIndex> index,
                       HnswIndex::Create(spec, kDim, Metric::kL2));
  const Label label = 1;
  ASSERT_OK(
      index->Add(std::span<const Label>(&label, 1), std::span<const float>(data.data(), kDim)));
  EXPECT_EQ(index->SetLevelSeed(7).code(), absl::StatusCode::kFailedPrecondition);
}

// The query walk pinned too: the hash of what 200 searches return (labels and exact scores, in
// order) on the Float32Ties graph, where many candidates are equally far, so the order in which
// the walk's heaps hand out equal entries decides which of them are returned. Recorded when
// the walk still used std::priority_queue; the walk now keeps its heaps per thread between
// searches (hnsw_index.cc, WalkHeaps), which must change nothing: the same hash after searches
// with a far larger ef on the same thread, and on a thread that never searched before.
TEST(HnswWalkGoldenTest, SearchResultsArePinnedAndIndependentOfEarlierSearches) {
  constexpr uint64_t kWalkHash = 0xe926c1b2efb9c1c2ull;
  const std::vector<float> data = IntegerRows(/*ties=*/true);
  IndexSpec spec;
  spec.kind = IndexKind::kHnsw;
  spec.m = 4;
  spec.ef_construction = 32;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VectorIndex> index, MakeIndex(spec, kDim, Metric::kL2));
  std::vector<Label> labels(kRows);
  for (size_t i = 0; i < kRows; ++i) labels[i] = i;
  ASSERT_OK(index->Add(labels, std::span<const float>(data.data(), kRows * kDim)));
  // Queries: rows of the data shifted by small integers (distances stay exact integers).
  auto walk_hash = [&]() -> uint64_t {
    std::string bytes;
    for (size_t q = 0; q < 200; ++q) {
      std::vector<float> query(data.begin() + static_cast<ptrdiff_t>((q * 7) % kRows * kDim),
                               data.begin() + static_cast<ptrdiff_t>(((q * 7) % kRows + 1) * kDim));
      query[q % kDim] += static_cast<float>(q % 3) - 1.0f;
      SearchOptions options;
      options.top_k = 10;
      options.ef = q % 2 == 0 ? 16 : 48;
      auto hits = index->Search(query, options);
      EXPECT_OK(hits.status());
      if (!hits.ok()) return 0;
      for (const SearchHit& hit : *hits) {
        bytes.append(reinterpret_cast<const char*>(&hit.label), sizeof(hit.label));
        bytes.append(reinterpret_cast<const char*>(&hit.score), sizeof(hit.score));
      }
    }
    return Hash64(bytes);
  };
  const uint64_t first = walk_hash();
  char hex[32];
  std::snprintf(hex, sizeof(hex), "0x%016llx", static_cast<unsigned long long>(first));
  EXPECT_EQ(first, kWalkHash) << "the walk returns other results (hash " << hex
                              << "); record it only if the walk was changed on purpose";
  {  // a search with a large ef leaves large heaps behind on this thread
    SearchOptions wide;
    wide.top_k = 100;
    wide.ef = 1000;
    ASSERT_OK(index->Search(std::span<const float>(data.data(), kDim), wide).status());
  }
  EXPECT_EQ(walk_hash(), first);
  uint64_t on_new_thread = 0;
  std::thread([&] { on_new_thread = walk_hash(); }).join();
  EXPECT_EQ(on_new_thread, first);
}

INSTANTIATE_TEST_SUITE_P(
    Storage, HnswGoldenTest,
    ::testing::Values(GoldenCase{Quantization::kNone, false, false, 0x4f7f92c04e1f64bbull, "Float32"},
                      GoldenCase{Quantization::kNone, true, false, 0xa3d8d2bd7d61573full, "Float32Ties"},
                      GoldenCase{Quantization::kF16, false, false, 0x0b15d4a87ef62389ull, "F16"},
                      GoldenCase{Quantization::kInt8, false, true, 0xcfbfcd788d5b0d47ull, "Int8"}),
    [](const ::testing::TestParamInfo<GoldenCase>& info) { return info.param.name; });

}  // namespace
}  // namespace ragd::index
