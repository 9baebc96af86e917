#include "index/lexical/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  return it == postings_.end() ? 0 : static_cast<uint32_t>(it->second.size());
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
    std::vector<std::string_view> sorted(doc.terms.begin(), doc.terms.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return absl::InvalidArgumentError("bm25: a term is repeated (count it once, with its freq)");
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
  Remove(label);
  size_t inserted = 0;
  try {
    for (const TermFreq& t : terms) {
      postings_[t.term].emplace(label, Posting{t.freq, doc.length});
      ++inserted;
    }
    total_length_ += doc.length;
    docs_.emplace(label, std::move(doc));
  } catch (const std::bad_alloc&) {
    // Undo the postings added so far (erasing does not allocate).
    for (size_t i = 0; i < inserted; ++i) {
      auto it = postings_.find(terms[i].term);
      it->second.erase(label);
      if (it->second.empty()) postings_.erase(it);
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
  for (const auto& [term, labels] : postings_) {
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
    p->second.erase(label);
    if (p->second.empty()) postings_.erase(p);
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
    // The query's posting lists, found once; the score table is sized for the longest
    // possible union up front (no rehashing while accumulating).
    std::vector<const absl::flat_hash_map<Label, Posting>*> lists;
    lists.reserve(query_terms.size());
    size_t total = 0;
    for (const std::string& term : query_terms) {
      auto p = postings_.find(term);
      if (p == postings_.end()) continue;
      lists.push_back(&p->second);
      total += p->second.size();
    }
    absl::flat_hash_map<Label, double> scores;
    scores.reserve(std::min(total, docs_.size()));
    for (const auto* list : lists) {
      const double df = static_cast<double>(list->size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const auto& [label, posting] : *list) {
        if (options.filter != nullptr && !options.filter->Accept(label)) continue;
        const double tf = posting.tf;
        const double dl = posting.length;
        const double norm = avgdl > 0 ? 1.0 - b + b * dl / avgdl : 1.0;
        scores[label] += idf * tf * (k1 + 1.0) / (tf + k1 * norm);
      }
    }
    std::vector<Bm25Hit> hits;
    hits.reserve(scores.size());
    for (const auto& [label, score] : scores) hits.push_back(Bm25Hit{label, score});
    const size_t k = std::min(options.top_k, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + k, hits.end(), Better);
    hits.resize(k);
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
      const auto& postings = postings_.find(*term)->second;
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
      auto& postings = index.postings_[previous];
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
        postings.emplace(label, Posting{tf, doc->second.length});
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
