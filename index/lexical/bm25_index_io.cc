// Bm25Index's snapshot image: Save, and Load with every check of what it reads (header, sizes
// and checksum before any allocation, then the payload's consistency). The format is stated at
// Save in bm25_index.h; the index itself and its search are in bm25_index.cc.

#include "index/lexical/bm25_index.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

}  // namespace

absl::Status Bm25Index::Save(std::string* out) const {
  try {
    std::string payload;
    internal::ByteWriter p(&payload);
    std::vector<std::pair<Label, uint32_t>> docs;
    docs.reserve(ordinals_.size());
    for (const auto& [label, ordinal] : ordinals_) docs.emplace_back(label, lengths_[ordinal]);
    std::sort(docs.begin(), docs.end());
    for (const auto& [label, length] : docs) {
      p.Put<uint64_t>(label);
      p.Put<uint32_t>(length);
    }
    std::vector<std::pair<const std::string*, uint32_t>> terms;
    terms.reserve(live_terms_);
    for (const auto& [text, id] : term_ids_) {
      if (terms_[id].df > 0) terms.emplace_back(&text, id);
    }
    std::sort(terms.begin(), terms.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    std::vector<std::pair<Label, uint32_t>> list;
    for (const auto& [text, id] : terms) {
      list.clear();
      for (const Posting& posting : terms_[id].postings) {
        if (dead_[posting.ordinal] == 0) list.emplace_back(labels_[posting.ordinal], posting.tf);
      }
      // Ordinals follow the order of addition, not of labels.
      std::sort(list.begin(), list.end());
      p.Put<uint32_t>(static_cast<uint32_t>(text->size()));
      p.PutBytes(text->data(), text->size());
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
    w.Put<uint64_t>(ordinals_.size());
    w.Put<uint64_t>(terms.size());
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
  if (doc_count > payload.size() / kDocRecordBytes || doc_count >= kMaxOrdinals) {
    return r.Corrupt("document count");
  }
  if (term_count > (payload.size() - doc_count * kDocRecordBytes) / kMinTermRecordBytes) {
    return r.Corrupt("term count");
  }
  if (total_length > doc_count * uint64_t{kMaxDocumentLength}) return r.Corrupt("total length");

  // Built in bulk: ordinals in the file's document order (by label), each term's postings
  // filled once from its record, the documents' term lists by counting then filling.
  try {
    internal::ByteReader p(payload, "bm25 index payload");
    Bm25Index index(options);
    index.ordinals_.reserve(doc_count);
    index.labels_.reserve(doc_count);
    index.lengths_.reserve(doc_count);
    index.term_ids_.reserve(term_count);
    index.terms_.reserve(term_count);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < doc_count; ++i) {
      uint64_t label = 0;
      uint32_t length = 0;
      RETURN_IF_ERROR(p.Get(&label));
      RETURN_IF_ERROR(p.Get(&length));
      if (length > kMaxDocumentLength) return p.Corrupt("document length");
      if (!index.ordinals_.emplace(label, static_cast<Ordinal>(i)).second) {
        return p.Corrupt("repeated label");
      }
      index.labels_.push_back(label);
      index.lengths_.push_back(length);
      sum += length;
    }
    if (sum != total_length) return p.Corrupt("document lengths do not add up");
    index.total_length_ = total_length;
    std::vector<uint64_t> seen_length(doc_count, 0);
    std::vector<uint64_t> terms_of(doc_count + 1, 0);  // per ordinal, then offsets
    std::string_view previous;
    for (uint64_t i = 0; i < term_count; ++i) {
      uint32_t term_bytes = 0, count = 0;
      RETURN_IF_ERROR(p.Get(&term_bytes));
      if (term_bytes == 0 || term_bytes > kMaxTermBytes) return p.Corrupt("term length");
      ASSIGN_OR_RETURN(std::string_view term, p.GetSpan(term_bytes, 1));
      if (i > 0 && !(previous < term)) return p.Corrupt("terms out of order");
      previous = term;
      RETURN_IF_ERROR(p.Get(&count));
      if (count == 0 || count > doc_count) return p.Corrupt("posting count");
      ASSIGN_OR_RETURN(std::string_view records, p.GetSpan(count, kPostingBytes));
      Term t;
      t.postings.reserve(count);
      uint64_t last_label = 0;
      bool ordered = true;
      for (uint32_t j = 0; j < count; ++j) {
        uint64_t label = 0;
        uint32_t tf = 0;
        std::memcpy(&label, records.data() + j * kPostingBytes, sizeof(label));
        std::memcpy(&tf, records.data() + j * kPostingBytes + sizeof(label), sizeof(tf));
        if (j > 0 && label <= last_label) return p.Corrupt("postings out of order");
        last_label = label;
        if (tf == 0) return p.Corrupt("term frequency 0");
        auto doc = index.ordinals_.find(label);
        if (doc == index.ordinals_.end()) return p.Corrupt("posting of an unknown label");
        const Ordinal o = doc->second;
        seen_length[o] += tf;
        if (seen_length[o] > index.lengths_[o]) {
          return p.Corrupt("term frequencies exceed the length");
        }
        ++terms_of[o + 1];
        if (!t.postings.empty() && t.postings.back().ordinal > o) ordered = false;
        t.postings.push_back(Posting{o, tf});
        t.max_tf = std::max(t.max_tf, tf);
        t.min_length = std::min(t.min_length, index.lengths_[o]);
      }
      // Save writes documents by label, so ordinals follow labels; another writer's order
      // costs a sort here, not a wrong answer.
      if (!ordered) {
        std::sort(t.postings.begin(), t.postings.end(),
                  [](const Posting& a, const Posting& b) { return a.ordinal < b.ordinal; });
      }
      RebuildBlocks(t, index.lengths_);
      t.df = count;
      index.term_ids_.emplace(std::string(term), static_cast<uint32_t>(index.terms_.size()));
      index.terms_.push_back(std::move(t));
    }
    RETURN_IF_ERROR(p.ExpectEnd());
    for (uint64_t o = 0; o < doc_count; ++o) {
      if (seen_length[o] != index.lengths_[o]) {
        return p.Corrupt("a document's length differs from its term frequencies");
      }
    }
    for (uint64_t o = 0; o < doc_count; ++o) terms_of[o + 1] += terms_of[o];
    index.doc_terms_.resize(terms_of[doc_count]);
    index.doc_begin_ = terms_of;
    for (uint32_t id = 0; id < index.terms_.size(); ++id) {
      for (const Posting& posting : index.terms_[id].postings) {
        index.doc_terms_[terms_of[posting.ordinal]++] = id;
      }
    }
    index.dead_.assign(doc_count, 0);
    index.postings_ = index.doc_terms_.size();
    index.live_terms_ = index.terms_.size();
    return index;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
}

}  // namespace ragd::index::lexical
