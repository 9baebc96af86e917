// MetadataIndex: hand-worked cases for each coercion of the filter semantics, then a
// differential test: random points and random filter trees, the index's answer against a scan
// with Matches() (the definition it must reproduce), under adds and removes.

#include "index/metadata/metadata_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace ragd::index::metadata {
namespace {

std::set<Label> Labels(const MetadataIndex& index, const Filter& filter) {
  absl::StatusOr<LabelSet> set = index.Evaluate(filter);
  EXPECT_TRUE(set.ok()) << set.status();
  if (!set.ok()) return {};
  std::vector<Label> v = set->ToVector();
  EXPECT_EQ(v.size(), set->size());
  for (Label l : v) EXPECT_TRUE(set->Accept(l));
  return {v.begin(), v.end()};
}

Filter Eq(std::string key, MetadataValue v) { return Filter::Cond(Equals(std::move(key), std::move(v))); }

class MetadataIndexTest : public ::testing::Test {
 protected:
  void Add(Label label, std::string doc, Metadata m) {
    ASSERT_TRUE(index_.Add(label, doc, m).ok());
    points_[label] = {std::move(doc), std::move(m)};
  }
  void Remove(Label label) {
    auto it = points_.find(label);
    index_.Remove(label, it->second.first, it->second.second);
    points_.erase(it);
  }
  MetadataIndex index_;
  std::map<Label, std::pair<std::string, Metadata>> points_;
};

TEST_F(MetadataIndexTest, EachCoercionOfTheFilterSemantics) {
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable as a double
  Add(1, "d1", {{"lang", std::string("ko")}, {"year", int64_t{2020}}, {"draft", false}});
  Add(2, "d1", {{"lang", std::string("en")}, {"year", 2020.0}, {"score", 0.5}});
  Add(3, "d2", {{"tags", std::vector<std::string>{"a", "b"}}, {"year", int64_t{2024}}});
  Add(4, "d3", {{"id", big}, {"zero", -0.0}, {"nan", std::nan("")}, {"draft", true}});
  Add(5, "d3", {{"id", big - 1}, {"zero", int64_t{0}}, {"lang", std::string("ko")}});

  EXPECT_EQ(Labels(index_, Eq("lang", std::string("ko"))), (std::set<Label>{1, 5}));
  // int64 and double compare by value: 2020 == 2020.0 whichever side is which.
  EXPECT_EQ(Labels(index_, Eq("year", int64_t{2020})), (std::set<Label>{1, 2}));
  EXPECT_EQ(Labels(index_, Eq("year", 2020.0)), (std::set<Label>{1, 2}));
  // Exactly when both are int64: 2^53 + 1 is not 2^53.
  EXPECT_EQ(Labels(index_, Eq("id", big)), (std::set<Label>{4}));
  EXPECT_EQ(Labels(index_, Eq("id", big - 1)), (std::set<Label>{5}));
  // -0.0 equals 0 (and int64 0); NaN equals nothing, not even NaN.
  EXPECT_EQ(Labels(index_, Eq("zero", 0.0)), (std::set<Label>{4, 5}));
  EXPECT_EQ(Labels(index_, Eq("zero", int64_t{0})), (std::set<Label>{4, 5}));
  EXPECT_TRUE(Labels(index_, Eq("nan", std::nan(""))).empty());
  // A list matches a wanted string when any element equals it; a wanted list in order.
  EXPECT_EQ(Labels(index_, Eq("tags", std::string("b"))), (std::set<Label>{3}));
  EXPECT_EQ(Labels(index_, Eq("tags", std::vector<std::string>{"a", "b"})), (std::set<Label>{3}));
  EXPECT_TRUE(Labels(index_, Eq("tags", std::vector<std::string>{"b", "a"})).empty());
  // Bools match bools only; strings never match numbers.
  EXPECT_EQ(Labels(index_, Eq("draft", true)), (std::set<Label>{4}));
  EXPECT_TRUE(Labels(index_, Eq("draft", int64_t{1})).empty());
  EXPECT_TRUE(Labels(index_, Eq("year", std::string("2020"))).empty());
  // Ranges over ints and doubles alike; the tightest of gt/gte wins.
  EXPECT_EQ(Labels(index_, Filter::Cond(Range("year", 2020.0, 2024.0))), (std::set<Label>{1, 2}));
  Condition c = Range("year", 2020.0, std::nullopt);
  c.gt = 2020.0;
  EXPECT_EQ(Labels(index_, Filter::Cond(c)), (std::set<Label>{3}));
  Condition crossed = Range("year", 2030.0, 2000.0);
  EXPECT_TRUE(Labels(index_, Filter::Cond(crossed)).empty());
  // A missing key matches no condition, so NOT of it matches every point.
  EXPECT_TRUE(Labels(index_, Eq("nope", std::string("x"))).empty());
  EXPECT_EQ(Labels(index_, Filter::Not(Eq("nope", std::string("x")))).size(), 5u);
  EXPECT_EQ(Labels(index_, Filter::Not(Eq("lang", std::string("ko")))), (std::set<Label>{2, 3, 4}));
  // document_id, In, And, Or.
  EXPECT_EQ(Labels(index_, Filter::Cond(DocumentIdEquals("d3"))), (std::set<Label>{4, 5}));
  EXPECT_EQ(Labels(index_, Filter::Cond(In("lang", {std::string("en"), std::string("ko")}))),
            (std::set<Label>{1, 2, 5}));
  EXPECT_EQ(Labels(index_, Filter::And({Eq("lang", std::string("ko")),
                                        Filter::Cond(DocumentIdEquals("d1"))})),
            (std::set<Label>{1}));
  EXPECT_EQ(Labels(index_, Filter::Or({Eq("draft", true), Eq("score", 0.5)})),
            (std::set<Label>{2, 4}));

  // Removing a point takes it out of every set; the emptied keys disappear.
  const size_t before = index_.MemoryBytes();
  Remove(3);
  EXPECT_TRUE(Labels(index_, Eq("tags", std::string("a"))).empty());
  EXPECT_EQ(Labels(index_, Filter::Not(Eq("lang", std::string("ko")))), (std::set<Label>{2, 4}));
  EXPECT_EQ(index_.size(), 4u);
  EXPECT_LT(index_.MemoryBytes(), before);
}

// Random metadata from small domains, so that filters hit and miss often.
MetadataValue RandomValue(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 5), small(0, 4);
  switch (kind(rng)) {
    case 0:
      return std::string(1, static_cast<char>('a' + small(rng)));
    case 1:
      return static_cast<int64_t>(small(rng));
    case 2:
      return small(rng) * 0.5;
    case 3:
      return small(rng) % 2 == 0;
    case 4: {
      std::vector<std::string> list;
      for (int i = small(rng) % 3; i >= 0; --i) list.emplace_back(1, static_cast<char>('a' + small(rng)));
      return list;
    }
    default:
      return small(rng) == 0 ? std::nan("") : -0.0;
  }
}

Filter RandomFilter(std::mt19937_64& rng, int depth) {
  std::uniform_int_distribution<int> pick(0, depth >= 3 ? 2 : 5), key(0, 3), n(1, 3);
  const int p = pick(rng);
  if (p <= 2) {
    Condition c;
    c.key = std::string(1, static_cast<char>('p' + key(rng)));
    if (p == 0) {
      c.op = Condition::Op::kEquals;
      c.value = RandomValue(rng);
      if (key(rng) == 0) {
        c.on_document_id = true;
        c.value = std::string("doc") + std::to_string(key(rng));
      }
    } else if (p == 1) {
      c.op = Condition::Op::kIn;
      for (int i = n(rng); i > 0; --i) c.values.push_back(RandomValue(rng));
    } else {
      c.op = Condition::Op::kRange;
      std::uniform_real_distribution<double> bound(-0.5, 4.5);
      if (key(rng) < 2) c.gte = bound(rng);
      if (key(rng) < 2) c.gt = bound(rng);
      if (key(rng) < 2) c.lt = bound(rng);
      if (key(rng) < 2 || (!c.gte && !c.gt && !c.lt)) c.lte = bound(rng);
    }
    return Filter::Cond(std::move(c));
  }
  std::vector<Filter> children;
  if (p == 5) return Filter::Not(RandomFilter(rng, depth + 1));
  for (int i = n(rng); i > 0; --i) children.push_back(RandomFilter(rng, depth + 1));
  return p == 3 ? Filter::And(std::move(children)) : Filter::Or(std::move(children));
}

TEST_F(MetadataIndexTest, AgreesWithAScanOfMatchesUnderAddsAndRemoves) {
  std::mt19937_64 rng(20261201);
  std::uniform_int_distribution<int> keys(0, 3), doc(0, 3);
  Label next = 1;
  size_t checked = 0, nonempty = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 25; ++i) {
      Metadata m;
      for (int k = keys(rng); k >= 0; --k) m[std::string(1, static_cast<char>('p' + keys(rng)))] = RandomValue(rng);
      Add(next++, "doc" + std::to_string(doc(rng)), std::move(m));
    }
    // Remove a few (a replacement is a remove plus an add under a new label).
    for (int i = 0; i < 8 && !points_.empty(); ++i) {
      auto it = points_.begin();
      std::advance(it, static_cast<long>(rng() % points_.size()));
      Remove(it->first);
    }
    for (int f = 0; f < 25; ++f) {
      Filter filter = RandomFilter(rng, 0);
      ASSERT_TRUE(filter.Validate().ok()) << filter.Validate();
      std::set<Label> want;
      for (const auto& [label, point] : points_) {
        if (Matches(filter, point.first, point.second)) want.insert(label);
      }
      ASSERT_EQ(Labels(index_, filter), want) << "round " << round << " filter " << f;
      ++checked;
      nonempty += !want.empty() && want.size() < points_.size();
    }
  }
  EXPECT_EQ(checked, 1000u);
  EXPECT_GT(nonempty, 300u);  // the filters discriminate, not all-or-nothing
  EXPECT_EQ(index_.size(), points_.size());
}

}  // namespace
}  // namespace ragd::index::metadata
