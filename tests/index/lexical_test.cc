// ragd_lexical's BM25 index. Expected BM25 scores are computed here by hand from the formula
// (never with ragd's code), and rankings are compared with SQLite FTS5's bm25() over the same
// tokens. The analyzers are tested in lexical_analyzer_test.cc.

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "gtest/gtest.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/bm25_index.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index::lexical {
namespace {

using Terms = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Bm25Index

std::vector<TermFreq> Doc(std::string_view text) {
  Terms terms;
  std::istringstream in{std::string(text)};
  for (std::string w; in >> w;) terms.push_back(w);
  return CountTerms(terms);
}

// The tiny corpus of the hand computations: N = 3, lengths 3, 3, 6, avgdl = 12 / 3 = 4.
Bm25Index TinyIndex(const Bm25Options& options = {}) {
  Bm25Index index(options);
  EXPECT_OK(index.Add(1, Doc("a b c")));
  EXPECT_OK(index.Add(2, Doc("a a d")));
  EXPECT_OK(index.Add(3, Doc("b d d d e e")));
  return index;
}

std::vector<Bm25Hit> Search(const Bm25Index& index, const Terms& query, size_t k = 10,
                            const LabelFilter* filter = nullptr) {
  auto hits = index.Search(query, {.top_k = k, .filter = filter});
  EXPECT_OK(hits);
  return hits.ok() ? *hits : std::vector<Bm25Hit>{};
}

TEST(Bm25IndexTest, ScoresMatchTheFormulaByHand) {
  const Bm25Index index = TinyIndex();
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.total_length(), 12u);
  EXPECT_DOUBLE_EQ(index.average_length(), 4.0);
  EXPECT_EQ(index.DocFreq("a"), 2u);
  EXPECT_EQ(index.DocFreq("zzz"), 0u);
  // idf(a) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6) = 0.4700036292...
  // (Robertson's ln(1.5 / 2.5) would be negative: a is in 2 of 3 documents.)
  // d1: tf 1, |D| 3: K = 1.2 * (0.25 + 0.75 * 3 / 4) = 0.975; 1 * 2.2 / 1.975 = 1.1139240506
  // d2: tf 2, |D| 3: 2 * 2.2 / (2 + 0.975) = 1.4789915966
  auto hits = Search(index, {"a"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].label, 2u);
  EXPECT_NEAR(hits[0].score, 0.6951314180441133, 1e-12);
  EXPECT_EQ(hits[1].label, 1u);
  EXPECT_NEAR(hits[1].score, 0.523548346501579, 1e-12);
  // Query "d e". idf(d) = ln(1.6); idf(e) = ln(1 + 2.5 / 1.5) = 0.9808292530.
  // d3: |D| 6: K = 1.2 * (0.25 + 0.75 * 6 / 4) = 1.65; d: 3 * 2.2 / 4.65; e: 2 * 2.2 / 3.65
  //     = 0.4700036292 * 1.4193548387 + 0.9808292530 * 1.2054794521 = 1.8494714359
  // d2: d tf 1, |D| 3: 0.4700036292 * 2.2 / 1.975 = 0.5235483465
  hits = Search(index, {"d", "e"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].label, 3u);
  EXPECT_NEAR(hits[0].score, 1.8494714358609334, 1e-12);
  EXPECT_EQ(hits[1].label, 2u);
  EXPECT_NEAR(hits[1].score, 0.523548346501579, 1e-12);
  // top_k cuts; unknown terms add nothing; an empty query finds nothing.
  EXPECT_EQ(Search(index, {"d", "e", "nothing"}, 1).size(), 1u);
  EXPECT_TRUE(Search(index, {}).empty());
  EXPECT_EQ(index.Search(Terms{"a"}, {.top_k = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A huge top_k is only a limit: nothing is sized by it.
  for (bool exhaustive : {false, true}) {
    auto all = index.Search(Terms{"a", "d"}, {.top_k = SIZE_MAX, .exhaustive = exhaustive});
    ASSERT_OK(all);
    EXPECT_EQ(all->size(), 3u);
  }
}

TEST(Bm25IndexTest, OptionsChangeTheScore) {
  // k1 = 2, b = 0 (no length normalisation): tf * 3 / (tf + 2).
  const Bm25Index index = TinyIndex({.k1 = 2.0, .b = 0.0});
  auto hits = Search(index, {"a"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_NEAR(hits[0].score, std::log(1.6) * 2 * 3 / (2 + 2), 1e-12);  // 0.7050054439
  EXPECT_NEAR(hits[1].score, std::log(1.6) * 1 * 3 / (1 + 2), 1e-12);  // 0.4700036292
  EXPECT_FALSE((Bm25Options{.k1 = -1}).Validate().ok());
  EXPECT_FALSE((Bm25Options{.b = 1.5}).Validate().ok());
  EXPECT_FALSE((Bm25Options{.b = std::nan("")}).Validate().ok());
  EXPECT_OK((Bm25Options{}).Validate());
}

TEST(Bm25IndexTest, RejectsMalformedDocuments) {
  Bm25Index index;
  EXPECT_EQ(index.Add(1, {{TermFreq{"", 1}}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Add(1, {{TermFreq{"a", 0}}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Add(1, {{TermFreq{"a", 1}, TermFreq{"a", 2}}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Add(1, {{TermFreq{std::string(Bm25Index::kMaxTermBytes + 1, 'x'), 1}}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.size(), 0u);
  // A document without terms counts in N and in avgdl.
  EXPECT_OK(index.Add(9, {}));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.total_length(), 0u);
}

class OddLabels : public LabelFilter {
 public:
  bool Accept(Label label) const override { return label % 2 == 1; }
};

TEST(Bm25IndexTest, FilterRestrictsWithoutChangingScores) {
  const Bm25Index index = TinyIndex();
  OddLabels odd;
  auto all = Search(index, {"b", "d"});
  auto filtered = Search(index, {"b", "d"}, 10, &odd);
  ASSERT_EQ(filtered.size(), 2u);
  for (const Bm25Hit& hit : filtered) {
    EXPECT_EQ(hit.label % 2, 1u);
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const Bm25Hit& h) { return h.label == hit.label; });
    ASSERT_NE(it, all.end());
    EXPECT_EQ(it->score, hit.score);
  }
}

// Counts the labels it is asked about (and accepts every third one when `selective`).
class CountingFilter : public LabelFilter {
 public:
  explicit CountingFilter(bool selective) : selective_(selective) {}
  bool Accept(Label label) const override {
    ++calls_;
    return !selective_ || label % 3 == 0;
  }
  size_t calls() const { return calls_; }

 private:
  bool selective_;
  mutable size_t calls_ = 0;
};

// The pruned top-k (Search's default) returns exactly what scoring every posting returns: the
// same labels in the same order with the same scores, bit for bit, on random Zipf-like text
// (short and long documents, repeated and unknown query terms, removals that leave the
// pruning bounds stale, filters). And it prunes: over the run it asks the filter about far
// fewer postings than exhaustive scoring does (5.5x fewer when written).
TEST(Bm25IndexTest, PrunedTopKEqualsExhaustiveScoring) {
  std::mt19937_64 rng(15);
  // Term i drawn with weight 1 / (i + 1): a few terms in most documents, a long tail.
  constexpr size_t kVocabulary = 400;
  std::vector<double> weights(kVocabulary);
  for (size_t i = 0; i < kVocabulary; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<size_t> term(weights.begin(), weights.end());
  auto text = [&](size_t words) {
    std::string t;
    for (size_t w = 0; w < words; ++w) absl::StrAppend(&t, "t", term(rng), " ");
    return t;
  };
  Bm25Index index;
  constexpr Label kDocs = 3000;
  for (Label label = 1; label <= kDocs; ++label) {
    ASSERT_OK(index.Add(label, Doc(text(1 + rng() % (label % 10 == 0 ? 400 : 60)))));
  }
  // Every fifth document removed: bounds that came from them are now looser than the postings.
  for (Label label = 5; label <= kDocs; label += 5) ASSERT_TRUE(index.Remove(label));

  size_t pruned_calls = 0, exhaustive_calls = 0, compared = 0;
  for (int q = 0; q < 300; ++q) {
    Terms query;
    for (const TermFreq& t : Doc(text(1 + rng() % 8))) query.push_back(t.term);
    if (q % 7 == 0) query.push_back(query.front());  // a repeated term counts twice
    if (q % 11 == 0) query.push_back("unknown");
    const size_t k = std::array<size_t, 4>{1, 3, 10, 50}[q % 4];
    const bool selective = q % 3 == 0;
    CountingFilter pruned_filter(selective), exhaustive_filter(selective),
        unprimed_filter(selective);
    const bool filtered = q % 2 == 0;
    auto pruned = index.Search(query, {.top_k = k,
                                       .filter = filtered ? &pruned_filter : nullptr,
                                       .prime = true,
                                       .block_max = (q / 4) % 2 == 0});
    // Unfiltered, the floor above is primed from the rarest term; not primed, the same hits.
    auto unprimed = index.Search(
        query, {.top_k = k, .filter = filtered ? &unprimed_filter : nullptr, .prime = false});
    ASSERT_OK(unprimed);
    auto exhaustive = index.Search(
        query, {.top_k = k, .filter = filtered ? &exhaustive_filter : nullptr, .exhaustive = true});
    ASSERT_OK(pruned);
    ASSERT_OK(exhaustive);
    ASSERT_EQ(pruned->size(), exhaustive->size()) << "query " << q;
    ASSERT_EQ(unprimed->size(), exhaustive->size()) << "query " << q;
    ASSERT_FALSE(exhaustive->empty()) << "query " << q;
    for (size_t i = 0; i < pruned->size(); ++i) {
      EXPECT_EQ((*pruned)[i].label, (*exhaustive)[i].label) << "query " << q << " hit " << i;
      EXPECT_EQ((*pruned)[i].score, (*exhaustive)[i].score) << "query " << q << " hit " << i;
      EXPECT_EQ((*unprimed)[i].label, (*exhaustive)[i].label) << "query " << q << " hit " << i;
      EXPECT_EQ((*unprimed)[i].score, (*exhaustive)[i].score) << "query " << q << " hit " << i;
      ++compared;
    }
    pruned_calls += pruned_filter.calls();
    exhaustive_calls += exhaustive_filter.calls();
  }
  EXPECT_GT(compared, 3000u);
  EXPECT_GT(exhaustive_calls, 0u);
  EXPECT_LT(pruned_calls * 3, exhaustive_calls)
      << "pruned " << pruned_calls << " vs exhaustive " << exhaustive_calls;
}

// Block-max: a frequent term's long list whose tf runs high in a few regions of ordinals and
// low elsewhere, so that its blocks' bounds differ and candidates are dropped against them.
// The hits must stay those of exhaustive scoring (and of the search without block bounds), bit
// for bit, before and after removals, a compaction and a Save/Load.
TEST(Bm25IndexTest, BlockMaxDropsCandidatesAndKeepsExactHits) {
  std::mt19937_64 rng(1515);
  Bm25Index index;
  constexpr Label kDocs = 6000;
  auto document = [&](Label label) {
    std::string t;
    // "common" in every document: tf 1..2, but 6..12 in every tenth block of 64 documents.
    const bool hot = (label / 64) % 10 == 3;
    const size_t common = hot ? 6 + rng() % 7 : 1 + rng() % 2;
    for (size_t i = 0; i < common; ++i) absl::StrAppend(&t, "common ");
    if (rng() % 3 == 0) absl::StrAppend(&t, "mid ");  // a third of the documents
    if (rng() % 40 == 0) absl::StrAppend(&t, "rare rare ");
    for (size_t i = 0, n = 4 + rng() % 20; i < n; ++i) absl::StrAppend(&t, "w", rng() % 500, " ");
    return t;
  };
  for (Label label = 1; label <= kDocs; ++label) ASSERT_OK(index.Add(label, Doc(document(label))));
  const std::vector<Terms> queries = {{"mid", "common"},         {"rare", "common"},
                                      {"rare", "mid", "common"}, {"common", "w7", "mid"},
                                      {"w3", "common"},          {"common", "w12", "w40", "rare"}};
  Bm25SearchStats stats;
  size_t compared = 0;
  auto check = [&](const Bm25Index& idx, const std::string& phase) {
    for (const Terms& q : queries) {
      for (size_t k : {1, 10, 50}) {
        auto blocked = idx.Search(q, {.top_k = k, .block_max = true, .stats = &stats});
        auto unblocked = idx.Search(q, {.top_k = k});
        auto exhaustive = idx.Search(q, {.top_k = k, .exhaustive = true});
        ASSERT_OK(blocked);
        ASSERT_OK(unblocked);
        ASSERT_OK(exhaustive);
        ASSERT_EQ(blocked->size(), exhaustive->size()) << phase;
        ASSERT_EQ(unblocked->size(), exhaustive->size()) << phase;
        for (size_t i = 0; i < exhaustive->size(); ++i) {
          EXPECT_EQ((*blocked)[i].label, (*exhaustive)[i].label) << phase << " hit " << i;
          EXPECT_EQ((*blocked)[i].score, (*exhaustive)[i].score) << phase << " hit " << i;
          EXPECT_EQ((*unblocked)[i].label, (*exhaustive)[i].label) << phase << " hit " << i;
          EXPECT_EQ((*unblocked)[i].score, (*exhaustive)[i].score) << phase << " hit " << i;
          ++compared;
        }
      }
    }
  };
  check(index, "built");
  const uint64_t dropped_built = stats.block_dropped;
  EXPECT_GT(dropped_built, 0u) << "candidates " << stats.candidates;
  // Removals leave the blocks' bounds loose (the hot documents' among them), then compaction.
  for (Label label = 1; label <= kDocs; label += 3) ASSERT_TRUE(index.Remove(label));
  check(index, "after removals");
  for (Label label = 2; label <= kDocs; label += 3) ASSERT_TRUE(index.Remove(label));
  for (Label label = kDocs + 1; label <= kDocs + 500; ++label) {
    ASSERT_OK(index.Add(label, Doc(document(label))));
  }
  check(index, "compacted and appended");
  std::string image;
  ASSERT_OK(index.Save(&image));
  auto loaded = Bm25Index::Load(image);
  ASSERT_OK(loaded);
  check(*loaded, "loaded");
  EXPECT_GT(compared, 500u);
  EXPECT_GT(stats.block_dropped, dropped_built) << "candidates " << stats.candidates;
  EXPECT_LT(stats.block_dropped, stats.candidates);
  EXPECT_GT(stats.windows_skipped, 0u);
  std::cout << "block-max: " << stats.candidates << " candidates, " << stats.block_dropped
            << " dropped on blocks, " << stats.windows_skipped << " windows skipped\n";
}

// The same index built from scratch and through removes/re-adds scores identically.
void ExpectSameIndex(const Bm25Index& a, const Bm25Index& b, const std::vector<Terms>& queries) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.total_length(), b.total_length());
  EXPECT_EQ(a.term_count(), b.term_count());
  for (const Terms& q : queries) {
    auto ha = Search(a, q), hb = Search(b, q);
    ASSERT_EQ(ha.size(), hb.size());
    for (size_t i = 0; i < ha.size(); ++i) {
      EXPECT_EQ(ha[i].label, hb[i].label);
      EXPECT_DOUBLE_EQ(ha[i].score, hb[i].score);
    }
  }
}

TEST(Bm25IndexTest, RemoveAndReAddKeepStatisticsRight) {
  const std::vector<Terms> queries = {{"a"}, {"b"}, {"d", "e"}, {"a", "b", "c", "d", "e"}};
  Bm25Index index = TinyIndex();
  EXPECT_TRUE(index.Remove(2));
  EXPECT_FALSE(index.Remove(2));
  EXPECT_FALSE(index.Remove(42));
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.total_length(), 9u);
  EXPECT_DOUBLE_EQ(index.average_length(), 4.5);
  EXPECT_EQ(index.DocFreq("a"), 1u);
  EXPECT_EQ(index.DocFreq("d"), 1u);
  Bm25Index fresh;
  ASSERT_OK(fresh.Add(1, Doc("a b c")));
  ASSERT_OK(fresh.Add(3, Doc("b d d d e e")));
  ExpectSameIndex(index, fresh, queries);

  ASSERT_OK(index.Add(2, Doc("a a d")));
  ExpectSameIndex(index, TinyIndex(), queries);

  // Add of a present label replaces it (a replayed add changes nothing).
  ASSERT_OK(index.Add(2, Doc("a a d")));
  ExpectSameIndex(index, TinyIndex(), queries);
  ASSERT_OK(index.Add(2, Doc("z")));
  EXPECT_EQ(index.total_length(), 10u);
  EXPECT_EQ(index.DocFreq("a"), 1u);
  EXPECT_EQ(index.DocFreq("z"), 1u);

  for (Label label : {1, 2, 3}) EXPECT_TRUE(index.Remove(label));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.total_length(), 0u);
  EXPECT_EQ(index.term_count(), 0u);
  EXPECT_TRUE(Search(index, {"a"}).empty());
}

TEST(Bm25IndexTest, MemoryBytesGrowsWithPostingsAndFallsBack) {
  Bm25Index index;
  const size_t empty = index.MemoryBytes();
  EXPECT_GE(empty, sizeof(Bm25Index));
  // 2,000 documents of 50 distinct terms each (100,000 postings over 4,000 terms of 24 bytes,
  // so every term has a heap part): at least a posting's 8 bytes (ordinal, tf) plus its 4 in
  // the document's term list, however the arrays are sized.
  for (Label label = 0; label < 2000; ++label) {
    std::string text;
    for (int t = 0; t < 50; ++t) {
      absl::StrAppend(&text, "term-with-a-long-name-", (label * 7 + t * 13) % 4000, " ");
    }
    ASSERT_OK(index.Add(label, Doc(text)));
  }
  const size_t full = index.MemoryBytes();
  EXPECT_GE(full, empty + 100000 * 12);
  EXPECT_LE(full, empty + 100000 * 200);  // an estimate, not a wild one
  for (Label label = 0; label < 2000; ++label) ASSERT_TRUE(index.Remove(label));
  // The tables keep their capacity (as Swiss tables do); compaction dropped the postings and
  // forgot the terms.
  EXPECT_LT(index.MemoryBytes(), full / 2);
}

// The reference the index is held to: documents as plain term lists, every statistic counted
// afresh and every document scored by the header's formula, summed in query-term order.
class ReferenceBm25 {
 public:
  void Add(Label label, std::vector<TermFreq> terms) { docs_[label] = std::move(terms); }
  bool Remove(Label label) { return docs_.erase(label) > 0; }
  uint64_t TotalLength() const {
    uint64_t total = 0;
    for (const auto& [label, terms] : docs_) {
      for (const TermFreq& t : terms) total += t.freq;
    }
    return total;
  }
  uint32_t DocFreq(const std::string& term) const {
    uint32_t df = 0;
    for (const auto& [label, terms] : docs_) {
      for (const TermFreq& t : terms) df += t.term == term ? 1 : 0;
    }
    return df;
  }
  size_t TermCount() const {
    std::set<std::string> distinct;
    for (const auto& [label, terms] : docs_) {
      for (const TermFreq& t : terms) distinct.insert(t.term);
    }
    return distinct.size();
  }
  std::vector<Bm25Hit> Search(const Terms& query, size_t k, const Bm25Options& o = {}) const {
    const double n = static_cast<double>(docs_.size());
    const double avgdl = docs_.empty() ? 0.0 : static_cast<double>(TotalLength()) / docs_.size();
    std::vector<double> idf;
    for (const std::string& term : query) {
      const double df = DocFreq(term);
      idf.push_back(df == 0 ? 0 : std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
    }
    std::vector<Bm25Hit> hits;
    for (const auto& [label, terms] : docs_) {
      uint64_t length = 0;
      for (const TermFreq& t : terms) length += t.freq;
      double score = 0;
      bool found = false;
      for (size_t i = 0; i < query.size(); ++i) {
        for (const TermFreq& t : terms) {
          if (t.term != query[i]) continue;
          const double tf = t.freq, dl = static_cast<double>(length);
          const double norm = avgdl > 0 ? 1.0 - o.b + o.b * dl / avgdl : 1.0;
          score += idf[i] * tf * (o.k1 + 1.0) / (tf + o.k1 * norm);
          found = true;
        }
      }
      if (found) hits.push_back({label, score});
    }
    std::sort(hits.begin(), hits.end(), [](const Bm25Hit& a, const Bm25Hit& b) {
      return a.score != b.score ? a.score > b.score : a.label < b.label;
    });
    if (hits.size() > k) hits.resize(k);
    return hits;
  }
  const std::map<Label, std::vector<TermFreq>>& docs() const { return docs_; }

 private:
  std::map<Label, std::vector<TermFreq>> docs_;
};

// Random adds, replacements and removals over a small label space (so that tombstones pile up
// and compactions run many times, also with documents without terms): after every step the
// statistics equal the reference's, and at checkpoints every query's hits (pruned and
// exhaustive) equal the reference's bit for bit, and Save gives the bytes of an index built
// afresh from the surviving documents (so compaction and ordinal reuse leave no trace). Pruned
// search is checked with and without threshold priming.
TEST(Bm25IndexTest, ChurnMatchesTheReference) {
  std::mt19937_64 rng(1515);
  constexpr size_t kVocabulary = 120;
  std::vector<double> weights(kVocabulary);
  for (size_t i = 0; i < kVocabulary; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<size_t> term(weights.begin(), weights.end());
  auto text = [&](size_t words) {
    std::string t;
    for (size_t w = 0; w < words; ++w) absl::StrAppend(&t, "w", term(rng), " ");
    return t;
  };
  Bm25Index index;
  ReferenceBm25 reference;
  size_t compared = 0, removed = 0;
  for (int step = 0; step < 3000; ++step) {
    const Label label = 1 + rng() % 200;
    if (rng() % 3 == 0) {
      const bool present = reference.Remove(label);
      EXPECT_EQ(index.Remove(label), present);
      removed += present ? 1 : 0;
    } else {
      auto doc = Doc(text(rng() % 20 == 0 ? 0 : 1 + rng() % 40));
      ASSERT_OK(index.Add(label, doc));
      reference.Add(label, std::move(doc));
    }
    ASSERT_EQ(index.size(), reference.docs().size()) << step;
    ASSERT_EQ(index.total_length(), reference.TotalLength()) << step;
    if (step % 100 != 99) continue;
    EXPECT_EQ(index.term_count(), reference.TermCount()) << step;
    for (size_t t = 0; t < kVocabulary; t += 7) {
      const std::string w = absl::StrCat("w", t);
      EXPECT_EQ(index.DocFreq(w), reference.DocFreq(w)) << step << " " << w;
    }
    for (int q = 0; q < 10; ++q) {
      Terms query;
      for (const TermFreq& t : Doc(text(1 + rng() % 6))) query.push_back(t.term);
      if (q == 3) query.push_back(query.front());
      const size_t k = std::array<size_t, 3>{1, 10, 50}[q % 3];
      const auto expected = reference.Search(query, k);
      for (int way = 0; way < 3; ++way) {  // pruned and primed, pruned, exhaustive
        auto hits = index.Search(query, {.top_k = k, .exhaustive = way == 2, .prime = way == 0});
        ASSERT_OK(hits);
        ASSERT_EQ(hits->size(), expected.size()) << step << " " << q;
        for (size_t i = 0; i < expected.size(); ++i) {
          EXPECT_EQ((*hits)[i].label, expected[i].label) << step << " " << q << " " << i;
          EXPECT_EQ((*hits)[i].score, expected[i].score) << step << " " << q << " " << i;
          ++compared;
        }
      }
    }
    Bm25Index fresh;
    for (const auto& [l, terms] : reference.docs()) ASSERT_OK(fresh.Add(l, terms));
    std::string churned_image, fresh_image;
    ASSERT_OK(index.Save(&churned_image));
    ASSERT_OK(fresh.Save(&fresh_image));
    EXPECT_EQ(churned_image, fresh_image) << step;
    // Every fifth checkpoint the churn goes on in the loaded copy (a loaded index's removals,
    // compactions and term-id reuse are then covered too).
    if (step % 500 == 499) {
      ASSERT_OK_AND_ASSIGN(index, Bm25Index::Load(churned_image));
    }
  }
  EXPECT_GT(removed, 500u);
  EXPECT_GT(compared, 5000u);
}

TEST(Bm25IndexConcurrentTest, SearchesRunInParallel) {
  const Bm25Index index = TinyIndex();
  const auto expected = Search(index, {"a", "b", "d", "e"});
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto hits = index.Search(Terms{"a", "b", "d", "e"});
        if (!hits.ok() || hits->size() != expected.size() ||
            !std::equal(hits->begin(), hits->end(), expected.begin(),
                        [](const Bm25Hit& x, const Bm25Hit& y) {
                          return x.label == y.label && x.score == y.score;
                        })) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// Against SQLite FTS5's bm25() (ext/fts5/fts5_aux.c; SQLite 3.40 here): k1 = 1.2 and b = 0.75
// fixed, the same tf part and avgdl (tokens per row), but Robertson's IDF
// ln((N - n + 0.5) / (n + 0.5)) clamped to 1e-6, where ragd uses Lucene's
// ln(1 + (N - n + 0.5) / (n + 0.5)); and bm25() is negated (smaller is better). So:
//  - a one-term query ranks identically, and each document's score ratio is the ratio of the
//    two IDFs, computed here by hand;
//  - any query's ragd score is the sum over its terms of -bm25(term) * lucene_idf / fts5_idf,
//    as long as every term is in fewer than half of the rows (fts5_idf not clamped).

class Fts5 {
 public:
  Fts5() {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    Exec("CREATE VIRTUAL TABLE docs USING fts5(body)");
  }
  ~Fts5() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "") << " in " << sql;
    sqlite3_free(error);
  }
  void Insert(Label label, const std::string& text) {
    Exec("INSERT INTO docs(rowid, body) VALUES (" + std::to_string(label) + ", '" + text + "')");
  }
  // (label, -bm25) best first.
  std::vector<Bm25Hit> Query(const Terms& terms) {
    std::string match;
    for (const std::string& t : terms) match += (match.empty() ? "" : " OR ") + t;
    sqlite3_stmt* stmt = nullptr;
    const std::string sql =
        "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH '" + match + "' ORDER BY rank";
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::vector<Bm25Hit> out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.push_back(
          {static_cast<Label>(sqlite3_column_int64(stmt, 0)), -sqlite3_column_double(stmt, 1)});
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(Bm25IndexTest, RanksLikeSqliteFts5) {
  // 40 documents of 3..30 words over a Zipf-ish vocabulary of 12 words: lengths and term
  // frequencies vary, so scores rarely tie.
  const Terms vocabulary = {"alpha", "bravo", "charlie", "delta",  "echo", "foxtrot",
                            "golf",  "hotel", "india",   "juliet", "kilo", "lima"};
  std::mt19937 rng(2026);
  Bm25Index index;
  Fts5 fts;
  const int n = 40;
  for (Label label = 1; label <= n; ++label) {
    const size_t length = 3 + rng() % 28;
    std::string text;
    for (size_t i = 0; i < length; ++i) {
      // P(word w) ~ 1 / (w + 1): common words early in the list, rare ones late.
      std::discrete_distribution<int> zipf({12, 6, 4, 3, 2.4, 2, 1.7, 1.5, 0.4, 0.3, 0.25, 0.2});
      text += (text.empty() ? "" : " ") + vocabulary[zipf(rng)];
    }
    ASSERT_OK(index.Add(label, Doc(text)));
    fts.Insert(label, text);
  }
  auto idf_lucene = [&](double df) { return std::log(1 + (n - df + 0.5) / (df + 0.5)); };
  auto idf_fts5 = [&](double df) { return std::max(1e-6, std::log((n - df + 0.5) / (df + 0.5))); };

  int compared = 0;
  // One-term queries: same order; score ratio = idf ratio, for every document.
  for (const std::string& term : vocabulary) {
    const auto ours = Search(index, {term}, n);
    const auto theirs = fts.Query({term});
    ASSERT_EQ(ours.size(), theirs.size()) << term;
    const double ratio = idf_lucene(index.DocFreq(term)) / idf_fts5(index.DocFreq(term));
    for (size_t i = 0; i < ours.size(); ++i) {
      const bool tie = (i + 1 < ours.size() && ours[i].score - ours[i + 1].score < 1e-9) ||
                       (i > 0 && ours[i - 1].score - ours[i].score < 1e-9);
      if (!tie) {
        EXPECT_EQ(ours[i].label, theirs[i].label) << term << " rank " << i;
      }
      EXPECT_NEAR(ours[i].score / theirs[i].score, ratio, 1e-9) << term;
      ++compared;
    }
  }
  // Multi-term queries over the rarer half (df < N/2): the sum of the rescaled FTS5 scores.
  Terms rare;
  for (const std::string& term : vocabulary) {
    if (index.DocFreq(term) > 0 && index.DocFreq(term) < n / 2) rare.push_back(term);
  }
  ASSERT_GE(rare.size(), 4u);
  std::vector<Terms> queries = {rare, {rare[0], rare[1], rare[2]}};
  for (size_t i = 0; i + 1 < rare.size(); ++i) queries.push_back({rare[i], rare[i + 1]});
  for (const Terms& q : queries) {
    std::map<Label, double> expected;
    for (const std::string& term : q) {
      const double scale = idf_lucene(index.DocFreq(term)) / idf_fts5(index.DocFreq(term));
      for (const Bm25Hit& hit : fts.Query({term})) expected[hit.label] += hit.score * scale;
    }
    const auto ours = Search(index, q, n);
    ASSERT_EQ(ours.size(), expected.size());
    for (const Bm25Hit& hit : ours) {
      EXPECT_NEAR(hit.score, expected[hit.label], 1e-9) << hit.label;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100);
}

// ---------------------------------------------------------------------------------------------
// Save / Load

// Header layout (bm25_index.h): magic 0, version 4, k1 8, b 16, documents 24, terms 32,
// total length 40, payload bytes 48, checksum 56, payload from 64.
constexpr size_t kHeaderBytes = 64;
void Reseal(std::string* image) {
  Hasher64 hasher;
  hasher.Update(std::string_view(*image).substr(0, 56));
  hasher.Update(std::string_view(*image).substr(kHeaderBytes));
  const uint64_t sum = hasher.Digest();
  std::memcpy(image->data() + 56, &sum, sizeof(sum));
}
template <typename T>
void Poke(std::string* image, size_t offset, T value) {
  std::memcpy(image->data() + offset, &value, sizeof(value));
}

TEST(Bm25IndexTest, SaveLoadRoundTrip) {
  Bm25Index index = TinyIndex({.k1 = 1.5, .b = 0.5});
  ASSERT_OK(index.Add(7, Doc("한국어 데이터 e1234")));
  ASSERT_TRUE(index.Remove(1));
  std::string image;
  ASSERT_OK(index.Save(&image));
  ASSERT_OK_AND_ASSIGN(Bm25Index loaded, Bm25Index::Load(image));
  EXPECT_EQ(loaded.options().k1, 1.5);
  EXPECT_EQ(loaded.options().b, 0.5);
  ExpectSameIndex(index, loaded, {{"a"}, {"d", "e"}, {"데이터", "e1234"}, {"b", "c"}});
  std::string again;
  ASSERT_OK(loaded.Save(&again));
  EXPECT_EQ(image, again);
  // A loaded index keeps working: removes update its statistics.
  EXPECT_TRUE(loaded.Remove(7));
  EXPECT_EQ(loaded.DocFreq("데이터"), 0u);
  EXPECT_EQ(loaded.total_length(), 9u);

  std::string empty;
  ASSERT_OK(Bm25Index().Save(&empty));
  EXPECT_EQ(empty.size(), kHeaderBytes);
  ASSERT_OK_AND_ASSIGN(Bm25Index none, Bm25Index::Load(empty));
  EXPECT_EQ(none.size(), 0u);
}

// Save writes documents by label, so loaded ordinals follow labels; an image whose documents
// come in another order (a valid image, from another writer) loads to the same index: the
// postings are put back in ordinal order.
TEST(Bm25IndexTest, LoadAcceptsDocumentsInAnyOrder) {
  Bm25Index fresh;
  ASSERT_OK(fresh.Add(2, Doc("x y")));
  ASSERT_OK(fresh.Add(5, Doc("x x z")));
  ASSERT_OK(fresh.Add(9, Doc("y z z z")));
  std::string image;
  ASSERT_OK(fresh.Save(&image));
  // The document records (label u64, length u32) sit at 64, 76 and 88: reverse them.
  std::string reordered = image;
  for (int i = 0; i < 3; ++i) {
    std::memcpy(reordered.data() + kHeaderBytes + 12 * i,
                image.data() + kHeaderBytes + 12 * (2 - i), 12);
  }
  ASSERT_NE(reordered, image);
  Reseal(&reordered);
  ASSERT_OK_AND_ASSIGN(Bm25Index loaded, Bm25Index::Load(reordered));
  ExpectSameIndex(fresh, loaded, {{"x"}, {"y"}, {"z"}, {"x", "y", "z"}});
  for (bool exhaustive : {false, true}) {
    auto a = fresh.Search(Terms{"z", "x"}, {.top_k = 3, .exhaustive = exhaustive});
    auto b = loaded.Search(Terms{"z", "x"}, {.top_k = 3, .exhaustive = exhaustive});
    ASSERT_OK(a);
    ASSERT_OK(b);
    ASSERT_EQ(a->size(), 3u);
    ASSERT_EQ(b->size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ((*a)[i].label, (*b)[i].label);
      EXPECT_EQ((*a)[i].score, (*b)[i].score);
    }
  }
  std::string again;
  ASSERT_OK(loaded.Save(&again));
  EXPECT_EQ(again, image);
  // Removing from it keeps working (its document term lists were rebuilt by counting).
  EXPECT_TRUE(loaded.Remove(5));
  EXPECT_EQ(loaded.DocFreq("x"), 1u);
  EXPECT_EQ(loaded.DocFreq("z"), 1u);
}

TEST(Bm25IndexTest, LoadRejectsCorruptImages) {
  std::string image;
  ASSERT_OK(TinyIndex().Save(&image));
  // Every truncation and every flipped byte is caught (the checksum covers the header too).
  for (size_t n = 0; n < image.size(); ++n) {
    EXPECT_EQ(Bm25Index::Load(std::string_view(image).substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  for (size_t i = 0; i < image.size(); ++i) {
    std::string bad = image;
    bad[i] ^= 0x20;
    EXPECT_EQ(Bm25Index::Load(bad).status().code(), absl::StatusCode::kDataLoss) << i;
  }
  EXPECT_EQ(Bm25Index::Load(image + "x").status().code(), absl::StatusCode::kDataLoss);

  // Crafted images with a valid checksum: counts beyond the bytes present are rejected before
  // anything is allocated, and inconsistent payloads are rejected.
  auto expect_rejected = [](std::string bad, const char* what) {
    Reseal(&bad);
    auto loaded = Bm25Index::Load(bad);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << what;
  };
  {
    std::string bad = image;
    Poke<uint64_t>(&bad, 24, uint64_t{1} << 60);
    expect_rejected(bad, "huge document count");
  }
  {
    std::string bad = image;
    Poke<uint64_t>(&bad, 32, uint64_t{1} << 60);
    expect_rejected(bad, "huge term count");
  }
  {
    std::string bad = image;
    Poke<uint64_t>(&bad, 40, 13);
    expect_rejected(bad, "total length off by one");
  }
  {
    std::string bad = image;
    Poke<double>(&bad, 8, -3.0);
    expect_rejected(bad, "k1 out of range");
  }
  {
    // The first document record is (label 1, length 3) at 64; label 1 -> 99 leaves postings of
    // label 1 without a document.
    std::string bad = image;
    Poke<uint64_t>(&bad, kHeaderBytes, 99);
    expect_rejected(bad, "posting of an unknown label");
  }
  {
    // Document 1's length 3 -> 4 (and the total with it): its term frequencies no longer add up.
    std::string bad = image;
    Poke<uint32_t>(&bad, kHeaderBytes + 8, 4);
    Poke<uint64_t>(&bad, 40, 13);
    expect_rejected(bad, "length differs from term frequencies");
  }
}

}  // namespace
}  // namespace ragd::index::lexical
