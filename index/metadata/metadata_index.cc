#include "index/metadata/metadata_index.h"

#include <roaring/roaring64map.hh>

#include <bit>
#include <cmath>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ragd::index::metadata {

using Bitmap = Roaring64Map;

struct LabelSet::Impl {
  Bitmap bits;
};

namespace {

// Equal doubles get equal keys: -0.0 and 0.0 compare equal, so both map to 0.0's bits. NaN is
// never stored for equality (it equals nothing).
uint64_t DoubleKey(double d) { return std::bit_cast<uint64_t>(d == 0 ? 0.0 : d); }

// A whole list of strings as one key: each element length-prefixed, so that no two lists
// share an encoding.
std::string ListKey(const std::vector<std::string>& list) {
  std::string key;
  for (const std::string& s : list) absl::StrAppend(&key, s.size(), ":", s);
  return key;
}

template <typename Map, typename K>
void AddTo(Map& map, const K& key, Label label) {
  map[key].add(static_cast<uint64_t>(label));
}

template <typename Map, typename K>
void RemoveFrom(Map& map, const K& key, Label label) {
  auto it = map.find(key);
  if (it == map.end()) return;
  it->second.remove(static_cast<uint64_t>(label));
  if (it->second.isEmpty()) map.erase(it);
}

template <typename Map, typename K>
void UniteWith(const Map& map, const K& key, Bitmap* out) {
  auto it = map.find(key);
  if (it != map.end()) *out |= it->second;
}

// Everything indexed under one metadata key.
struct KeyIndex {
  absl::flat_hash_map<std::string, Bitmap> strings;  // string fields, list elements
  absl::flat_hash_map<std::string, Bitmap> lists;    // whole lists (ListKey)
  Bitmap bool_true, bool_false;
  absl::flat_hash_map<int64_t, Bitmap> ints;              // int64 fields, exact
  absl::flat_hash_map<uint64_t, Bitmap> ints_by_double;   // int64 fields by double value
  absl::flat_hash_map<uint64_t, Bitmap> doubles;          // double fields (not NaN)
  std::map<double, Bitmap> numbers;                       // every number but NaN, for ranges

  bool empty() const {
    return strings.empty() && lists.empty() && bool_true.isEmpty() && bool_false.isEmpty() &&
           ints.empty() && doubles.empty() && numbers.empty();
  }

  void Add(Label label, const MetadataValue& value) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            AddTo(strings, v, label);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            for (const std::string& e : v) AddTo(strings, e, label);
            AddTo(lists, ListKey(v), label);
          } else if constexpr (std::is_same_v<T, bool>) {
            (v ? bool_true : bool_false).add(static_cast<uint64_t>(label));
          } else if constexpr (std::is_same_v<T, int64_t>) {
            AddTo(ints, v, label);
            AddTo(ints_by_double, DoubleKey(static_cast<double>(v)), label);
            AddTo(numbers, static_cast<double>(v), label);
          } else {
            static_assert(std::is_same_v<T, double>);
            if (std::isnan(v)) return;
            AddTo(doubles, DoubleKey(v), label);
            AddTo(numbers, v, label);
          }
        },
        value);
  }

  void Remove(Label label, const MetadataValue& value) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            RemoveFrom(strings, v, label);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            for (const std::string& e : v) RemoveFrom(strings, e, label);
            RemoveFrom(lists, ListKey(v), label);
          } else if constexpr (std::is_same_v<T, bool>) {
            (v ? bool_true : bool_false).remove(static_cast<uint64_t>(label));
          } else if constexpr (std::is_same_v<T, int64_t>) {
            RemoveFrom(ints, v, label);
            RemoveFrom(ints_by_double, DoubleKey(static_cast<double>(v)), label);
            RemoveFrom(numbers, static_cast<double>(v), label);
          } else {
            static_assert(std::is_same_v<T, double>);
            if (std::isnan(v)) return;
            RemoveFrom(doubles, DoubleKey(v), label);
            RemoveFrom(numbers, v, label);
          }
        },
        value);
  }

  // Labels whose field equals `want` (filter.cc's FieldEquals), added to `out`.
  void Equal(const MetadataValue& want, Bitmap* out) const {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            UniteWith(strings, v, out);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            UniteWith(lists, ListKey(v), out);
          } else if constexpr (std::is_same_v<T, bool>) {
            *out |= v ? bool_true : bool_false;
          } else if constexpr (std::is_same_v<T, int64_t>) {
            UniteWith(ints, v, out);
            UniteWith(doubles, DoubleKey(static_cast<double>(v)), out);
          } else {
            static_assert(std::is_same_v<T, double>);
            if (std::isnan(v)) return;
            UniteWith(ints_by_double, DoubleKey(v), out);
            UniteWith(doubles, DoubleKey(v), out);
          }
        },
        want);
  }

  // Labels whose numeric field lies within the condition's bounds (filter.cc's InRange).
  void InRange(const Condition& c, Bitmap* out) const {
    // The tightest lower and upper bounds; at an equal value the strict one is tighter.
    std::optional<double> lo, hi;
    bool lo_strict = false, hi_strict = false;
    if (c.gte) lo = *c.gte;
    if (c.gt && (!lo || *c.gt >= *lo)) lo = *c.gt, lo_strict = true;
    if (c.lte) hi = *c.lte;
    if (c.lt && (!hi || *c.lt <= *hi)) hi = *c.lt, hi_strict = true;
    auto begin = !lo ? numbers.begin() : lo_strict ? numbers.upper_bound(*lo) : numbers.lower_bound(*lo);
    auto end = !hi ? numbers.end() : hi_strict ? numbers.lower_bound(*hi) : numbers.upper_bound(*hi);
    if (begin == numbers.end()) return;
    if (end != numbers.end() && !(begin->first < end->first)) return;  // empty or crossed
    for (auto it = begin; it != end; ++it) *out |= it->second;
  }
};

}  // namespace

struct MetadataIndex::Impl {
  Bitmap live;
  absl::flat_hash_map<std::string, Bitmap> documents;
  absl::flat_hash_map<std::string, KeyIndex> keys;

  Bitmap Condition(const Condition& c) const {
    Bitmap out;
    if (c.on_document_id) {
      auto add = [&](const MetadataValue& v) {
        if (const auto* s = std::get_if<std::string>(&v)) UniteWith(documents, *s, &out);
      };
      if (c.op == Condition::Op::kEquals) add(c.value);
      if (c.op == Condition::Op::kIn) {
        for (const MetadataValue& v : c.values) add(v);
      }
      return out;  // a range on document_id is rejected by Filter::Validate
    }
    auto it = keys.find(c.key);
    if (it == keys.end()) return out;
    const KeyIndex& key = it->second;
    switch (c.op) {
      case Condition::Op::kEquals:
        key.Equal(c.value, &out);
        break;
      case Condition::Op::kIn:
        for (const MetadataValue& v : c.values) key.Equal(v, &out);
        break;
      case Condition::Op::kRange:
        key.InRange(c, &out);
        break;
    }
    return out;
  }

  Bitmap Eval(const Filter& f) const {
    switch (f.kind) {
      case Filter::Kind::kCondition:
        return Condition(f.condition);
      case Filter::Kind::kAnd: {
        Bitmap out = Eval(f.children.front());
        for (size_t i = 1; i < f.children.size() && !out.isEmpty(); ++i) {
          out &= Eval(f.children[i]);
        }
        return out;
      }
      case Filter::Kind::kOr: {
        Bitmap out;
        for (const Filter& child : f.children) out |= Eval(child);
        return out;
      }
      case Filter::Kind::kNot: {
        Bitmap out = live;
        out -= Eval(f.children.front());
        return out;
      }
    }
    return Bitmap();
  }
};

// ---- LabelSet

LabelSet::LabelSet() : impl_(std::make_unique<Impl>()) {}
LabelSet::LabelSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LabelSet::~LabelSet() = default;
LabelSet::LabelSet(LabelSet&&) noexcept = default;
LabelSet& LabelSet::operator=(LabelSet&&) noexcept = default;

uint64_t LabelSet::size() const { return impl_->bits.cardinality(); }
bool LabelSet::Accept(Label label) const {
  return impl_->bits.contains(static_cast<uint64_t>(label));
}
std::vector<Label> LabelSet::ToVector() const {
  std::vector<Label> out;
  out.reserve(impl_->bits.cardinality());
  for (uint64_t v : impl_->bits) out.push_back(static_cast<Label>(v));
  return out;
}
size_t LabelSet::MemoryBytes() const { return impl_->bits.getSizeInBytes(); }

// ---- MetadataIndex

MetadataIndex::MetadataIndex() : impl_(std::make_unique<Impl>()) {}
MetadataIndex::~MetadataIndex() = default;
MetadataIndex::MetadataIndex(MetadataIndex&&) noexcept = default;
MetadataIndex& MetadataIndex::operator=(MetadataIndex&&) noexcept = default;

absl::Status MetadataIndex::Add(Label label, std::string_view document_id,
                                const Metadata& metadata) {
  try {
    impl_->live.add(static_cast<uint64_t>(label));
    AddTo(impl_->documents, std::string(document_id), label);
    for (const auto& [key, value] : metadata) impl_->keys[key].Add(label, value);
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory indexing metadata");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("metadata index: ", e.what()));
  }
}

void MetadataIndex::Remove(Label label, std::string_view document_id, const Metadata& metadata) {
  // Removal only shrinks sets and erases map entries: it allocates nothing that can fail.
  impl_->live.remove(static_cast<uint64_t>(label));
  RemoveFrom(impl_->documents, std::string(document_id), label);
  for (const auto& [key, value] : metadata) {
    auto it = impl_->keys.find(key);
    if (it == impl_->keys.end()) continue;
    it->second.Remove(label, value);
    if (it->second.empty()) impl_->keys.erase(it);
  }
}

absl::StatusOr<LabelSet> MetadataIndex::Evaluate(const Filter& filter) const {
  try {
    auto set = std::make_unique<LabelSet::Impl>();
    set->bits = impl_->Eval(filter);
    return LabelSet(std::move(set));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory evaluating a filter");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("metadata index: ", e.what()));
  }
}

absl::StatusOr<LabelSet> MetadataIndex::All() const {
  try {
    auto set = std::make_unique<LabelSet::Impl>();
    set->bits = impl_->live;
    return LabelSet(std::move(set));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory copying the live set");
  }
}

uint64_t MetadataIndex::size() const { return impl_->live.cardinality(); }

size_t MetadataIndex::MemoryBytes() const {
  size_t bytes = impl_->live.getSizeInBytes();
  for (const auto& [doc, bits] : impl_->documents) bytes += doc.size() + bits.getSizeInBytes();
  for (const auto& [name, key] : impl_->keys) {
    bytes += name.size();
    for (const auto& [s, b] : key.strings) bytes += s.size() + b.getSizeInBytes();
    for (const auto& [s, b] : key.lists) bytes += s.size() + b.getSizeInBytes();
    bytes += key.bool_true.getSizeInBytes() + key.bool_false.getSizeInBytes();
    for (const auto& [v, b] : key.ints) bytes += sizeof(v) + b.getSizeInBytes();
    for (const auto& [v, b] : key.ints_by_double) bytes += sizeof(v) + b.getSizeInBytes();
    for (const auto& [v, b] : key.doubles) bytes += sizeof(v) + b.getSizeInBytes();
    for (const auto& [v, b] : key.numbers) bytes += sizeof(v) + b.getSizeInBytes();
  }
  return bytes;
}

}  // namespace ragd::index::metadata
