#pragma once
// Filters over a point's document_id and metadata: a tree of AND / OR / NOT over conditions
// (equals, in-set, numeric range). Evaluated in memory by the engine for every candidate.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "index/types.h"

namespace ragd::index {

struct Condition {
  enum class Op { kEquals = 0, kIn = 1, kRange = 2 };
  // When true the condition reads the point's document_id (a string) and `key` is ignored.
  bool on_document_id = false;
  std::string key;  // metadata key
  Op op = Op::kEquals;
  // kEquals: the value to match. A list-of-strings field matches when any element equals it.
  // Numbers compare by value across int64 and double (3 == 3.0).
  MetadataValue value;
  // kIn: matches when the field equals any of these.
  std::vector<MetadataValue> values;
  // kRange: numeric bounds, each optional; non-numeric fields never match.
  std::optional<double> gt, gte, lt, lte;
};

struct Filter {
  enum class Kind { kCondition = 0, kAnd = 1, kOr = 2, kNot = 3 };
  Kind kind = Kind::kCondition;
  Condition condition;            // kCondition
  std::vector<Filter> children;   // kAnd, kOr (any count >= 1); kNot (exactly one)

  static Filter Cond(Condition c) {
    Filter f;
    f.kind = Kind::kCondition;
    f.condition = std::move(c);
    return f;
  }
  static Filter And(std::vector<Filter> c) { return Group(Kind::kAnd, std::move(c)); }
  static Filter Or(std::vector<Filter> c) { return Group(Kind::kOr, std::move(c)); }
  static Filter Not(Filter c) { return Group(Kind::kNot, {std::move(c)}); }

  // Rejects empty groups, NOT with other than one child, empty keys, ranges without bounds,
  // and trees deeper than kMaxDepth or larger than kMaxNodes (INVALID_ARGUMENT).
  absl::Status Validate() const;

  static constexpr int kMaxDepth = 16;
  static constexpr int kMaxNodes = 1024;

 private:
  static Filter Group(Kind k, std::vector<Filter> c) {
    Filter f;
    f.kind = k;
    f.children = std::move(c);
    return f;
  }
};

// True when a point with this document_id and metadata satisfies `filter`.
bool Matches(const Filter& filter, std::string_view document_id, const Metadata& metadata);

// Convenience constructors for tests and the CLI.
Condition Equals(std::string key, MetadataValue v);
Condition DocumentIdEquals(std::string document_id);
Condition In(std::string key, std::vector<MetadataValue> values);
Condition Range(std::string key, std::optional<double> gte, std::optional<double> lt);

}  // namespace ragd::index
