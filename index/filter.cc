#include "index/filter.h"

#include <cmath>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"

namespace ragd::index {
namespace {

absl::Status ValidateCondition(const Condition& c) {
  if (!c.on_document_id && c.key.empty()) {
    return absl::InvalidArgumentError("filter condition needs a non-empty metadata key");
  }
  switch (c.op) {
    case Condition::Op::kEquals:
      if (c.on_document_id && !std::holds_alternative<std::string>(c.value)) {
        return absl::InvalidArgumentError("a document_id condition compares strings only");
      }
      return absl::OkStatus();
    case Condition::Op::kIn:
      if (c.values.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter 'in' on '", c.key, "' needs at least one value"));
      }
      return absl::OkStatus();
    case Condition::Op::kRange: {
      if (c.on_document_id) {
        return absl::InvalidArgumentError("a range cannot apply to document_id (a string)");
      }
      if (!c.gt && !c.gte && !c.lt && !c.lte) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter range on '", c.key, "' needs at least one of gt, gte, lt, lte"));
      }
      for (const auto& b : {c.gt, c.gte, c.lt, c.lte}) {
        if (b && std::isnan(*b)) {
          return absl::InvalidArgumentError(
              absl::StrCat("filter range on '", c.key, "' has a NaN bound"));
        }
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown filter condition operator");
}

absl::Status ValidateNode(const Filter& f, int depth, int* nodes) {
  if (depth > Filter::kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter is nested deeper than ", Filter::kMaxDepth, " levels"));
  }
  if (++*nodes > Filter::kMaxNodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter has more than ", Filter::kMaxNodes, " nodes"));
  }
  switch (f.kind) {
    case Filter::Kind::kCondition:
      return ValidateCondition(f.condition);
    case Filter::Kind::kAnd:
    case Filter::Kind::kOr:
      if (f.children.empty()) {
        return absl::InvalidArgumentError("filter AND/OR needs at least one child");
      }
      break;
    case Filter::Kind::kNot:
      if (f.children.size() != 1) {
        return absl::InvalidArgumentError("filter NOT needs exactly one child");
      }
      break;
  }
  if (f.kind != Filter::Kind::kCondition) {
    for (const Filter& child : f.children) {
      absl::Status s = ValidateNode(child, depth + 1, nodes);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

std::optional<double> AsNumber(const MetadataValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

// Scalar equality with the documented coercions: int64 and double compare by value (exactly
// when both are int64, so large ids are not rounded through double), strings with strings,
// bools with bools only.
bool ScalarEquals(const MetadataValue& field, const MetadataValue& want) {
  if (std::holds_alternative<int64_t>(field) && std::holds_alternative<int64_t>(want)) {
    return std::get<int64_t>(field) == std::get<int64_t>(want);
  }
  std::optional<double> a = AsNumber(field), b = AsNumber(want);
  if (a && b) return *a == *b;
  if (const auto* s = std::get_if<std::string>(&field)) {
    const auto* t = std::get_if<std::string>(&want);
    return t != nullptr && *s == *t;
  }
  if (const auto* x = std::get_if<bool>(&field)) {
    const auto* y = std::get_if<bool>(&want);
    return y != nullptr && *x == *y;
  }
  return false;
}

// Equality of a field against one wanted value. A list field matches when any element equals
// a wanted string; a wanted list matches a list field with the same elements in order.
bool FieldEquals(const MetadataValue& field, const MetadataValue& want) {
  if (const auto* list = std::get_if<std::vector<std::string>>(&field)) {
    if (const auto* want_list = std::get_if<std::vector<std::string>>(&want)) {
      return *list == *want_list;
    }
    const auto* s = std::get_if<std::string>(&want);
    if (s == nullptr) return false;
    for (const std::string& e : *list) {
      if (e == *s) return true;
    }
    return false;
  }
  return ScalarEquals(field, want);
}

bool InRange(const Condition& c, double x) {
  if (std::isnan(x)) return false;
  if (c.gt && !(x > *c.gt)) return false;
  if (c.gte && !(x >= *c.gte)) return false;
  if (c.lt && !(x < *c.lt)) return false;
  if (c.lte && !(x <= *c.lte)) return false;
  return true;
}

bool ConditionMatches(const Condition& c, std::string_view document_id,
                      const Metadata& metadata) {
  MetadataValue doc_field;
  const MetadataValue* field = nullptr;
  if (c.on_document_id) {
    doc_field = std::string(document_id);
    field = &doc_field;
  } else {
    auto it = metadata.find(c.key);
    if (it == metadata.end()) return false;  // a missing key matches no condition
    field = &it->second;
  }
  switch (c.op) {
    case Condition::Op::kEquals:
      return FieldEquals(*field, c.value);
    case Condition::Op::kIn:
      for (const MetadataValue& v : c.values) {
        if (FieldEquals(*field, v)) return true;
      }
      return false;
    case Condition::Op::kRange: {
      std::optional<double> x = AsNumber(*field);
      return x.has_value() && InRange(c, *x);
    }
  }
  return false;
}

}  // namespace

absl::Status Filter::Validate() const {
  int nodes = 0;
  return ValidateNode(*this, 1, &nodes);
}

bool Matches(const Filter& filter, std::string_view document_id, const Metadata& metadata) {
  switch (filter.kind) {
    case Filter::Kind::kCondition:
      return ConditionMatches(filter.condition, document_id, metadata);
    case Filter::Kind::kAnd:
      for (const Filter& c : filter.children) {
        if (!Matches(c, document_id, metadata)) return false;
      }
      return true;
    case Filter::Kind::kOr:
      for (const Filter& c : filter.children) {
        if (Matches(c, document_id, metadata)) return true;
      }
      return false;
    case Filter::Kind::kNot:
      return filter.children.size() == 1 && !Matches(filter.children[0], document_id, metadata);
  }
  return false;
}

Condition Equals(std::string key, MetadataValue v) {
  Condition c;
  c.key = std::move(key);
  c.op = Condition::Op::kEquals;
  c.value = std::move(v);
  return c;
}

Condition DocumentIdEquals(std::string document_id) {
  Condition c;
  c.on_document_id = true;
  c.op = Condition::Op::kEquals;
  c.value = std::move(document_id);
  return c;
}

Condition In(std::string key, std::vector<MetadataValue> values) {
  Condition c;
  c.key = std::move(key);
  c.op = Condition::Op::kIn;
  c.values = std::move(values);
  return c;
}

Condition Range(std::string key, std::optional<double> gte, std::optional<double> lt) {
  Condition c;
  c.key = std::move(key);
  c.op = Condition::Op::kRange;
  c.gte = gte;
  c.lt = lt;
  return c;
}

}  // namespace ragd::index
