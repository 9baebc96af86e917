#include "index/lexical/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <new>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "index/serialization.h"

namespace ragd::index::lexical {
namespace {

constexpr uint32_t kMagic = 0x35324d42;  // "BM25"
constexpr uint32_t kVersion = 1;
// magic, version, k1, b, documents, terms, total length, payload bytes, checksum
constexpr size_t kHeaderBytes = 2 * sizeof(uint32_t) + 2 * sizeof(double) + 5 * sizeof(uint64_t);
// label u64 + length u32
constexpr size_t kDocRecordBytes = sizeof(uint64_t) + sizeof(uint32_t);
// label u64 + tf u32
constexpr size_t kPostingBytes = sizeof(uint64_t) + sizeof(uint32_t);
// term length u32 + at least one byte + posting count u32 + at least one posting
constexpr size_t kMinTermRecordBytes = sizeof(uint32_t) + 1 + sizeof(uint32_t) + kPostingBytes;

// Covers the header fields before it (options and counts too) and the payload.
uint64_t Checksum(std::string_view header_before_checksum, std::string_view payload) {
  Hasher64 hasher;
  hasher.Update(header_before_checksum);
  hasher.Update(payload);
  return hasher.Digest();
}

// Search's margin on bounds and cut-offs, relative: far above the rounding of a sum of a few
// hundred terms (~1e-14), far below any difference between scores that matters.
constexpr double kSlack = 1e-9;

bool Better(const Bm25Hit& a, const Bm25Hit& b) {
  return a.score != b.score ? a.score > b.score : a.label < b.label;
}

}  // namespace

absl::Status Bm25Options::Validate() const {
  if (!(k1 >= 0 && k1 <= 10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25 k1 must be in [0, 10] (1.2 is the usual value), not ", k1));
  }
  if (!(b >= 0 && b <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25 b must be in [0, 1] (0.75 is the usual value), not ", b));
  }
  return absl::OkStatus();
}

Bm25Index::Bm25Index(const Bm25Options& options) : options_(options) {}

double Bm25Index::average_length() const {
  return docs_.empty() ? 0.0 : static_cast<double>(total_length_) / docs_.size();
}

uint32_t Bm25Index::DocFreq(std::string_view term) const {
  auto it = postings_.find(absl::string_view(term.data(), term.size()));
  return it == postings_.end() ? 0 : static_cast<uint32_t>(it->second.map.size());
}

absl::Status Bm25Index::Add(Label label, std::span<const TermFreq> terms) {
  uint64_t length = 0;
  for (const TermFreq& t : terms) {
    if (t.term.empty() || t.term.size() > kMaxTermBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("bm25: term of ", t.term.size(), " bytes (1 to ", kMaxTermBytes, ")"));
    }
    if (t.freq == 0) return absl::InvalidArgumentError("bm25: term frequency 0");
    length += t.freq;
  }
  if (length > kMaxDocumentLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25: document of ", length, " terms exceeds ", kMaxDocumentLength));
  }
  Doc doc;
  try {
    doc.length = static_cast<uint32_t>(length);
    doc.terms.reserve(terms.size());
    for (const TermFreq& t : terms) doc.terms.push_back(t.term);
    // CountTerms gives the terms sorted: then a repeat is a neighbour, found without a copy
    // and a sort (which cost about a tenth of Add at 200 terms per text).
    auto less = [](const TermFreq& a, const TermFreq& b) { return a.term < b.term; };
    bool repeated = false;
    if (std::is_sorted(terms.begin(), terms.end(), less)) {
      repeated = std::adjacent_find(terms.begin(), terms.end(), [](const auto& a, const auto& b) {
                   return a.term == b.term;
                 }) != terms.end();
    } else {
      std::vector<std::string_view> sorted(doc.terms.begin(), doc.terms.end());
      std::sort(sorted.begin(), sorted.end());
      repeated = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
    }
    if (repeated) {
      return absl::InvalidArgumentError("bm25: a term is repeated (count it once, with its freq)");
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
  Remove(label);
  size_t inserted = 0;
  try {
    for (const TermFreq& t : terms) {
      Postings& postings = postings_[t.term];
      const Posting posting{t.freq, doc.length};
      postings.map.emplace(label, posting);
      postings.Widen(posting);
      ++inserted;
    }
    total_length_ += doc.length;
    docs_.emplace(label, std::move(doc));
  } catch (const std::bad_alloc&) {
    // Undo the postings added so far (erasing does not allocate).
    for (size_t i = 0; i < inserted; ++i) {
      auto it = postings_.find(terms[i].term);
      it->second.map.erase(label);
      if (it->second.map.empty()) postings_.erase(it);
    }
    if (docs_.contains(label)) {
      docs_.erase(label);
    } else if (inserted == terms.size()) {
      total_length_ -= length;
    }
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
  return absl::OkStatus();
}

std::vector<Label> Bm25Index::Labels() const {
  std::vector<Label> out;
  out.reserve(docs_.size());
  for (const auto& [label, doc] : docs_) out.push_back(label);
  return out;
}

size_t Bm25Index::MemoryBytes() const {
  // A std::string keeps short texts inline (libstdc++: up to 15 bytes); longer ones on the heap.
  auto heap = [](const std::string& t) -> size_t {
    return t.capacity() > 15 ? t.capacity() + 1 : 0;
  };
  // Swiss tables: one control byte per slot besides the slot itself.
  size_t bytes = sizeof(*this) + docs_.capacity() * (sizeof(decltype(docs_)::value_type) + 1) +
                 postings_.capacity() * (sizeof(decltype(postings_)::value_type) + 1);
  for (const auto& [term, postings] : postings_) {
    const auto& labels = postings.map;
    bytes += heap(term) + labels.capacity() * (sizeof(std::pair<Label, Posting>) + 1);
    // Each posting's document keeps the term once more in its list (Doc::terms).
    bytes += labels.size() * (sizeof(std::string) + heap(term));
  }
  return bytes;
}

bool Bm25Index::Remove(Label label) {
  auto it = docs_.find(label);
  if (it == docs_.end()) return false;
  for (const std::string& term : it->second.terms) {
    auto p = postings_.find(term);
    if (p == postings_.end()) continue;
    p->second.map.erase(label);
    if (p->second.map.empty()) postings_.erase(p);
  }
  total_length_ -= it->second.length;
  docs_.erase(it);
  return true;
}

absl::StatusOr<std::vector<Bm25Hit>> Bm25Index::Search(std::span<const std::string> query_terms,
                                                       const Bm25SearchOptions& options) const {
  if (options.top_k == 0) return absl::InvalidArgumentError("bm25: top_k must be at least 1");
  try {
    const double n = static_cast<double>(docs_.size());
    const double avgdl = average_length();
    const double k1 = options_.k1, b = options_.b;
    // The one place a posting's score is computed, so that every pass below computes the same
    // bits for it.
    auto contribution = [&](double idf, const Posting& posting) {
      const double tf = posting.tf;
      const double dl = posting.length;
      const double norm = avgdl > 0 ? 1.0 - b + b * dl / avgdl : 1.0;
      return idf * tf * (k1 + 1.0) / (tf + k1 * norm);
    };
    struct Leg {
      const Postings* postings;
      double idf;
      double bound;  // no posting of the term adds more (kSlack above it)
    };
    // In query order: the order in which the final scores are summed.
    std::vector<Leg> legs;
    legs.reserve(query_terms.size());
    size_t total = 0;
    for (const std::string& term : query_terms) {
      auto p = postings_.find(term);
      if (p == postings_.end()) continue;
      const double df = static_cast<double>(p->second.map.size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      // The tf part grows with tf and shrinks with the document's length.
      const double bound = contribution(idf, Posting{p->second.max_tf, p->second.min_length});
      legs.push_back(Leg{&p->second, idf, bound * (1 + kSlack)});
      total += p->second.map.size();
    }
    const size_t k = options.top_k;
    // Highest bound first (rare terms, short lists): the k-th best score rises fastest.
    std::vector<size_t> order(legs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return legs[x].bound > legs[y].bound; });
    // rest[j]: what the terms order[j..] can add to any document, at most.
    std::vector<double> rest(legs.size() + 1, 0.0);
    for (size_t j = legs.size(); j-- > 0;) rest[j] = rest[j + 1] + legs[order[j]].bound;

    absl::flat_hash_map<Label, double> partial;
    partial.reserve(options.exhaustive ? std::min(total, docs_.size())
                                       : (legs.empty() ? 0 : legs[order[0]].postings->map.size()));
    std::vector<double> scratch;
    // The k-th best partial score (0 with fewer than k documents). A partial score never
    // exceeds the document's final one, so the final k-th best is at least this.
    auto kth = [&]() -> double {
      if (partial.size() < k) return 0;
      scratch.clear();
      scratch.reserve(partial.size());
      for (const auto& [label, score] : partial) scratch.push_back(score);
      std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1),
                       scratch.end(), std::greater<double>());
      return scratch[k - 1];
    };
    bool pruning = false;
    double seen = 0;  // the bounds of the terms taken so far: no partial score exceeds it
    for (size_t j = 0; j < order.size(); ++j) {
      const Leg& leg = legs[order[j]];
      const auto& map = leg.postings->map;
      // The relative margin (far above rounding) keeps every comparison on the safe side.
      if (!options.exhaustive && !pruning && partial.size() >= k && rest[j] < seen) {
        pruning = rest[j] < kth() * (1 - kSlack);
      }
      if (!pruning) {
        for (const auto& [label, posting] : map) {
          if (options.filter != nullptr && !options.filter->Accept(label)) continue;
          partial[label] += contribution(leg.idf, posting);
        }
      } else {
        // Candidates only (they passed the filter when found). One that cannot reach the k-th
        // best even with every term left at its bound is dropped.
        const double floor = kth() * (1 - kSlack);
        absl::erase_if(partial, [&](const auto& e) { return e.second + rest[j] < floor; });
        if (partial.size() <= map.size()) {
          for (auto& [label, score] : partial) {
            auto it = map.find(label);
            if (it != map.end()) score += contribution(leg.idf, it->second);
          }
        } else {
          for (const auto& [label, posting] : map) {
            auto it = partial.find(label);
            if (it != partial.end()) it->second += contribution(leg.idf, posting);
          }
        }
      }
      seen += leg.bound;
    }
    // Partial scores were summed in bound order; the candidates for the top k (the k-th best
    // and everything within the margin of it) are scored again in query order, as exhaustive
    // scoring sums, so that no score and no tie differs by a bit.
    const double cutoff = partial.size() > k ? kth() * (1 - kSlack) : 0;
    std::vector<Bm25Hit> hits;
    for (const auto& [label, score] : partial) {
      if (score >= cutoff) hits.push_back(Bm25Hit{label, score});
    }
    for (Bm25Hit& hit : hits) {
      double score = 0;
      for (const Leg& leg : legs) {
        auto it = leg.postings->map.find(hit.label);
        if (it != leg.postings->map.end()) score += contribution(leg.idf, it->second);
      }
      hit.score = score;
    }
    const size_t top = std::min(k, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(top), hits.end(),
                      Better);
    hits.resize(top);
    return hits;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
}

absl::Status Bm25Index::Save(std::string* out) const {
  try {
    std::string payload;
    internal::ByteWriter p(&payload);
    std::vector<std::pair<Label, uint32_t>> docs;
    docs.reserve(docs_.size());
    for (const auto& [label, doc] : docs_) docs.emplace_back(label, doc.length);
    std::sort(docs.begin(), docs.end());
    for (const auto& [label, length] : docs) {
      p.Put<uint64_t>(label);
      p.Put<uint32_t>(length);
    }
    std::vector<const std::string*> terms;
    terms.reserve(postings_.size());
    for (const auto& entry : postings_) terms.push_back(&entry.first);
    std::sort(terms.begin(), terms.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    std::vector<std::pair<Label, uint32_t>> list;
    for (const std::string* term : terms) {
      const auto& postings = postings_.find(*term)->second.map;
      list.clear();
      for (const auto& [label, posting] : postings) list.emplace_back(label, posting.tf);
      std::sort(list.begin(), list.end());
      p.Put<uint32_t>(static_cast<uint32_t>(term->size()));
      p.PutBytes(term->data(), term->size());
      p.Put<uint32_t>(static_cast<uint32_t>(list.size()));
      for (const auto& [label, tf] : list) {
        p.Put<uint64_t>(label);
        p.Put<uint32_t>(tf);
      }
    }
    std::string header;
    internal::ByteWriter w(&header);
    w.Put<uint32_t>(kMagic);
    w.Put<uint32_t>(kVersion);
    w.Put<double>(options_.k1);
    w.Put<double>(options_.b);
    w.Put<uint64_t>(docs_.size());
    w.Put<uint64_t>(postings_.size());
    w.Put<uint64_t>(total_length_);
    w.Put<uint64_t>(payload.size());
    w.Put<uint64_t>(Checksum(header, payload));
    out->append(header);
    out->append(payload);
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
}

absl::StatusOr<Bm25Index> Bm25Index::Load(std::string_view data) {
  internal::ByteReader r(data, "bm25 index");
  uint32_t magic = 0, version = 0;
  Bm25Options options;
  uint64_t doc_count = 0, term_count = 0, total_length = 0, payload_bytes = 0, checksum = 0;
  if (!r.Get(&magic).ok() || !r.Get(&version).ok() || !r.Get(&options.k1).ok() ||
      !r.Get(&options.b).ok() || !r.Get(&doc_count).ok() || !r.Get(&term_count).ok() ||
      !r.Get(&total_length).ok() || !r.Get(&payload_bytes).ok() || !r.Get(&checksum).ok()) {
    return r.Corrupt("header is truncated");
  }
  if (magic != kMagic) return r.Corrupt("bad magic (not a bm25 index)");
  if (version != kVersion) return r.Corrupt(absl::StrCat("unsupported version ", version));
  if (!options.Validate().ok()) return r.Corrupt("k1 or b out of range");
  if (payload_bytes != r.remaining()) return r.Corrupt("payload size differs from the file's");
  ASSIGN_OR_RETURN(std::string_view payload, r.GetSpan(payload_bytes, 1));
  if (Checksum(data.substr(0, kHeaderBytes - sizeof(uint64_t)), payload) != checksum) {
    return r.Corrupt("checksum mismatch");
  }
  // Counts are bounded by the bytes present before anything is sized by them.
  if (doc_count > payload.size() / kDocRecordBytes) return r.Corrupt("document count");
  if (term_count > (payload.size() - doc_count * kDocRecordBytes) / kMinTermRecordBytes) {
    return r.Corrupt("term count");
  }
  if (total_length > doc_count * uint64_t{kMaxDocumentLength}) return r.Corrupt("total length");

  try {
    internal::ByteReader p(payload, "bm25 index payload");
    Bm25Index index(options);
    index.docs_.reserve(doc_count);
    index.postings_.reserve(term_count);
    absl::flat_hash_map<Label, uint64_t> seen_length;
    seen_length.reserve(doc_count);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < doc_count; ++i) {
      uint64_t label = 0;
      uint32_t length = 0;
      RETURN_IF_ERROR(p.Get(&label));
      RETURN_IF_ERROR(p.Get(&length));
      if (length > kMaxDocumentLength) return p.Corrupt("document length");
      if (!index.docs_.emplace(label, Doc{length, {}}).second) return p.Corrupt("repeated label");
      sum += length;
    }
    if (sum != total_length) return p.Corrupt("document lengths do not add up");
    index.total_length_ = total_length;
    std::string previous;
    for (uint64_t i = 0; i < term_count; ++i) {
      uint32_t term_bytes = 0, count = 0;
      RETURN_IF_ERROR(p.Get(&term_bytes));
      if (term_bytes == 0 || term_bytes > kMaxTermBytes) return p.Corrupt("term length");
      ASSIGN_OR_RETURN(std::string_view term, p.GetSpan(term_bytes, 1));
      if (i > 0 && !(std::string_view(previous) < term)) return p.Corrupt("terms out of order");
      previous.assign(term);
      RETURN_IF_ERROR(p.Get(&count));
      if (count == 0 || count > doc_count) return p.Corrupt("posting count");
      ASSIGN_OR_RETURN(std::string_view records, p.GetSpan(count, kPostingBytes));
      Postings& term_postings = index.postings_[previous];
      auto& postings = term_postings.map;
      postings.reserve(count);
      uint64_t last_label = 0;
      for (uint32_t j = 0; j < count; ++j) {
        uint64_t label = 0;
        uint32_t tf = 0;
        std::memcpy(&label, records.data() + j * kPostingBytes, sizeof(label));
        std::memcpy(&tf, records.data() + j * kPostingBytes + sizeof(label), sizeof(tf));
        if (j > 0 && label <= last_label) return p.Corrupt("postings out of order");
        last_label = label;
        if (tf == 0) return p.Corrupt("term frequency 0");
        auto doc = index.docs_.find(label);
        if (doc == index.docs_.end()) return p.Corrupt("posting of an unknown label");
        uint64_t& seen = seen_length[label];
        seen += tf;
        if (seen > doc->second.length) return p.Corrupt("term frequencies exceed the length");
        doc->second.terms.push_back(previous);
        const Posting posting{tf, doc->second.length};
        postings.emplace(label, posting);
        term_postings.Widen(posting);
      }
    }
    RETURN_IF_ERROR(p.ExpectEnd());
    for (const auto& [label, doc] : index.docs_) {
      auto it = seen_length.find(label);
      if ((it == seen_length.end() ? 0 : it->second) != doc.length) {
        return p.Corrupt("a document's length differs from its term frequencies");
      }
    }
    return index;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
}

}  // namespace ragd::index::lexical
