// Bm25Index: the index itself (Add, Remove, compaction) and its search (MaxScore, block-max,
// exhaustive). Save and Load, the snapshot image and its checks, are in bm25_index_io.cc.

#include "index/lexical/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <new>

#include "absl/strings/str_cat.h"

namespace ragd::index::lexical {
namespace {

// Search's margin on bounds and cut-offs, relative: far above the rounding of a sum of a few
// hundred terms (~1e-14), far below any difference between scores that matters.
constexpr double kSlack = 1e-9;

// Makes room for `more` elements with geometric growth (a bare reserve(size() + more) would
// reallocate on every call: quadratic over an index's build).
template <typename T>
void Grow(std::vector<T>& v, size_t more) {
  if (v.capacity() - v.size() >= more) return;
  v.reserve(std::max(v.size() + more, 2 * v.capacity()));
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
  return ordinals_.empty() ? 0.0 : static_cast<double>(total_length_) / ordinals_.size();
}

uint32_t Bm25Index::DocFreq(std::string_view term) const {
  auto it = term_ids_.find(absl::string_view(term.data(), term.size()));
  return it == term_ids_.end() ? 0 : terms_[it->second].df;
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
  try {
    // CountTerms gives the terms sorted: then a repeat is a neighbour, found without a copy
    // and a sort (which cost about a tenth of Add at 200 terms per text).
    auto less = [](const TermFreq& a, const TermFreq& b) { return a.term < b.term; };
    bool repeated = false;
    if (std::is_sorted(terms.begin(), terms.end(), less)) {
      repeated = std::adjacent_find(terms.begin(), terms.end(), [](const auto& a, const auto& b) {
                   return a.term == b.term;
                 }) != terms.end();
    } else {
      std::vector<std::string_view> sorted;
      sorted.reserve(terms.size());
      for (const TermFreq& t : terms) sorted.push_back(t.term);
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
  if (labels_.size() >= kMaxOrdinals) Compact();
  if (labels_.size() >= kMaxOrdinals) {
    return absl::ResourceExhaustedError("bm25: 2^32 document ordinals in use");
  }
  const auto ordinal = static_cast<Ordinal>(labels_.size());
  const size_t terms_before = doc_terms_.size();
  size_t appended = 0;  // postings appended so far (the first `appended` terms)
  try {
    Grow(labels_, 1);
    Grow(lengths_, 1);
    Grow(dead_, 1);
    Grow(doc_begin_, 1);
    Grow(doc_terms_, terms.size());
    ordinals_.reserve(ordinals_.size() + 1);  // absl rounds capacities up: amortised
    // Three passes over the document's terms, each prefetching what the next one touches a
    // few terms ahead: a posting costs three cache misses at 100k documents (the term's hash
    // slot, its Term, the tail of its postings array), and a perf profile of the start-up
    // rebuild had them as 75% of Add. Pass 1: the term ids (doc_terms_, capacity reserved).
    constexpr size_t kAhead = 8;
    const size_t count = terms.size();
    for (size_t i = 0; i < count; ++i) {
      if (i + kAhead < count) term_ids_.prefetch(terms[i + kAhead].term);
      auto [it, inserted] = term_ids_.try_emplace(terms[i].term, 0);
      if (inserted) {
        if (!free_term_ids_.empty()) {
          it->second = free_term_ids_.back();
          free_term_ids_.pop_back();
        } else {
          try {
            terms_.emplace_back();
          } catch (...) {
            term_ids_.erase(it);
            throw;
          }
          it->second = static_cast<uint32_t>(terms_.size() - 1);
        }
      }
      doc_terms_.push_back(it->second);
      __builtin_prefetch(&terms_[it->second]);
    }
    const uint32_t* ids = doc_terms_.data() + terms_before;
    // Pass 2: the tails of the postings arrays.
    for (size_t i = 0; i < count; ++i) {
      Term& term = terms_[ids[i]];
      __builtin_prefetch(term.postings.data() + term.postings.size(), 1);
      // A posting that opens a block needs one more block: made room for here, so that pass 3
      // does not allocate for it.
      if (term.postings.size() % kBlock == 0) Grow(term.blocks, 1);
    }
    // Pass 3: the postings.
    for (size_t i = 0; i < count; ++i) {
      Term& term = terms_[ids[i]];
      term.postings.push_back(Posting{ordinal, terms[i].freq});
      // No allocation from here to the end of the loop body.
      if (term.df++ == 0) ++live_terms_;
      term.max_tf = std::max(term.max_tf, terms[i].freq);
      term.min_length = std::min(term.min_length, static_cast<uint32_t>(length));
      if (term.postings.size() % kBlock == 1) term.blocks.emplace_back();  // capacity: pass 2
      Term::Block& block = term.blocks.back();
      block.max_tf = std::max(block.max_tf, terms[i].freq);
      block.min_length = std::min(block.min_length, static_cast<uint32_t>(length));
      ++appended;
    }
  } catch (const std::bad_alloc&) {
    // Undo the postings appended so far (popping does not allocate). A term created for this
    // document stays known with df 0: Search skips it and compaction forgets it.
    for (size_t i = 0; i < appended; ++i) {
      Term& term = terms_[doc_terms_[terms_before + i]];
      term.postings.pop_back();
      // The block's bounds keep the undone posting's values: looser, still valid.
      if (term.postings.size() % kBlock == 0) term.blocks.pop_back();
      if (--term.df == 0) --live_terms_;
    }
    doc_terms_.resize(terms_before);
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
  // Capacity was reserved above: none of these allocate.
  labels_.push_back(label);
  lengths_.push_back(static_cast<uint32_t>(length));
  dead_.push_back(0);
  doc_begin_.push_back(doc_terms_.size());
  ordinals_.emplace(label, ordinal);
  postings_ += terms.size();
  total_length_ += length;
  return absl::OkStatus();
}

std::vector<Label> Bm25Index::Labels() const {
  std::vector<Label> out;
  out.reserve(ordinals_.size());
  for (const auto& [label, ordinal] : ordinals_) out.push_back(label);
  return out;
}

size_t Bm25Index::MemoryBytes() const {
  // A std::string keeps short texts inline (libstdc++: up to 15 bytes); longer ones on the heap.
  auto heap = [](const std::string& t) -> size_t {
    return t.capacity() > 15 ? t.capacity() + 1 : 0;
  };
  // Swiss tables: one control byte per slot besides the slot itself.
  size_t bytes = sizeof(*this) +
                 ordinals_.capacity() * (sizeof(decltype(ordinals_)::value_type) + 1) +
                 term_ids_.capacity() * (sizeof(decltype(term_ids_)::value_type) + 1) +
                 labels_.capacity() * sizeof(Label) + lengths_.capacity() * sizeof(uint32_t) +
                 dead_.capacity() + doc_begin_.capacity() * sizeof(uint64_t) +
                 doc_terms_.capacity() * sizeof(uint32_t) + terms_.capacity() * sizeof(Term) +
                 free_term_ids_.capacity() * sizeof(uint32_t);
  for (const auto& [term, id] : term_ids_) bytes += heap(term);
  for (const Term& term : terms_) {
    bytes +=
        term.postings.capacity() * sizeof(Posting) + term.blocks.capacity() * sizeof(Term::Block);
  }
  return bytes;
}

bool Bm25Index::Remove(Label label) {
  auto it = ordinals_.find(label);
  if (it == ordinals_.end()) return false;
  const Ordinal ordinal = it->second;
  const uint64_t begin = doc_begin_[ordinal], end = doc_begin_[ordinal + 1];
  for (uint64_t i = begin; i < end; ++i) {
    if (--terms_[doc_terms_[i]].df == 0) --live_terms_;
  }
  dead_[ordinal] = 1;
  ++dead_docs_;
  dead_postings_ += end - begin;
  total_length_ -= lengths_[ordinal];
  ordinals_.erase(it);
  MaybeCompact();
  return true;
}

void Bm25Index::MaybeCompact() {
  // A quarter: searches then skip at most one tombstone per three live postings, and each
  // compaction (O(all postings)) is paid for by at least a third as many removed postings.
  // Documents without terms count too, so that ordinals of empty documents are reclaimed.
  if (dead_postings_ * 4 > postings_ || dead_docs_ * 4 > labels_.size()) Compact();
}

void Bm25Index::RebuildBlocks(Term& term, std::span<const uint32_t> lengths) {
  const size_t count = (term.postings.size() + kBlock - 1) / kBlock;
  term.blocks.resize(count);
  for (size_t i = 0; i < count; ++i) {
    Term::Block block;
    const size_t end = std::min(term.postings.size(), (i + 1) * kBlock);
    for (size_t j = i * kBlock; j < end; ++j) {
      block.max_tf = std::max(block.max_tf, term.postings[j].tf);
      block.min_length = std::min(block.min_length, lengths[term.postings[j].ordinal]);
    }
    term.blocks[i] = block;
  }
}

void Bm25Index::Compact() {
  if (dead_docs_ == 0) return;
  const size_t old_count = labels_.size();
  const size_t live = old_count - dead_docs_;
  const uint64_t live_postings = postings_ - dead_postings_;
  size_t forgotten = 0;  // known terms without a live document
  for (const auto& [text, id] : term_ids_) {
    if (terms_[id].df == 0) ++forgotten;
  }
  // Phase 1 allocates everything; nothing of the index changes until it is done.
  std::vector<Ordinal> renumber;
  std::vector<Label> labels;
  std::vector<uint32_t> lengths;
  std::vector<uint8_t> dead;
  std::vector<uint64_t> doc_begin;
  std::vector<uint32_t> doc_terms;
  try {
    renumber.resize(old_count);
    labels.reserve(live);
    lengths.reserve(live);
    dead.assign(live, 0);
    doc_begin.reserve(live + 1);
    doc_terms.reserve(live_postings);
    free_term_ids_.reserve(free_term_ids_.size() + forgotten);
  } catch (const std::bad_alloc&) {
    return;  // still correct, only less tight
  }
  // Phase 2: no allocation (every container was sized above), so nothing throws.
  doc_begin.push_back(0);
  for (size_t o = 0; o < old_count; ++o) {
    if (dead_[o] != 0) continue;
    renumber[o] = static_cast<Ordinal>(labels.size());
    labels.push_back(labels_[o]);
    lengths.push_back(lengths_[o]);
    // A document's terms keep their ids (only forgotten terms lose theirs, and a live
    // document holds none of them).
    doc_terms.insert(doc_terms.end(), doc_terms_.begin() + static_cast<ptrdiff_t>(doc_begin_[o]),
                     doc_terms_.begin() + static_cast<ptrdiff_t>(doc_begin_[o + 1]));
    doc_begin.push_back(doc_terms.size());
  }
  for (uint32_t id = 0; id < terms_.size(); ++id) {
    Term& term = terms_[id];
    if (term.df == 0) continue;  // forgotten below
    size_t kept = 0;
    term.max_tf = 0;
    term.min_length = UINT32_MAX;
    for (const Posting& p : term.postings) {
      if (dead_[p.ordinal] != 0) continue;
      const Ordinal o = renumber[p.ordinal];
      term.postings[kept++] = Posting{o, p.tf};
      term.max_tf = std::max(term.max_tf, p.tf);
      term.min_length = std::min(term.min_length, lengths[o]);
    }
    term.postings.resize(kept);
    RebuildBlocks(term, lengths);  // fewer postings, no more blocks: does not allocate
  }
  absl::erase_if(term_ids_, [&](const auto& entry) {
    Term& term = terms_[entry.second];
    if (term.df != 0) return false;
    std::vector<Posting>().swap(term.postings);  // frees; does not allocate
    std::vector<Term::Block>().swap(term.blocks);
    term = Term{};
    free_term_ids_.push_back(entry.second);  // within the capacity reserved above
    return true;
  });
  for (auto& [label, ordinal] : ordinals_) ordinal = renumber[ordinal];
  labels_.swap(labels);
  lengths_.swap(lengths);
  dead_.swap(dead);
  doc_begin_.swap(doc_begin);
  doc_terms_.swap(doc_terms);
  postings_ = live_postings;
  dead_postings_ = 0;
  dead_docs_ = 0;
}

namespace {

// The per-thread dense accumulator of exhaustive scoring, indexed by ordinal: zero outside a
// search (the search that used it clears what it touched, also when it fails), so that a
// search costs what it touches, not the index's size.
struct Accumulator {
  std::vector<double> score;
  std::vector<uint32_t> touched;
};
thread_local Accumulator tls_accumulator;

}  // namespace

absl::StatusOr<std::vector<Bm25Hit>> Bm25Index::Search(std::span<const std::string> query_terms,
                                                       const Bm25SearchOptions& options) const {
  if (options.top_k == 0) return absl::InvalidArgumentError("bm25: top_k must be at least 1");
  if (!options.weights.empty()) {
    if (options.weights.size() != query_terms.size()) {
      return absl::InvalidArgumentError("bm25: one weight per query term, or none");
    }
    for (double w : options.weights) {
      // Every path below relies on each contribution being > 0.
      if (!(w > 0) || !std::isfinite(w)) {
        return absl::InvalidArgumentError("bm25: weights must be finite and positive");
      }
    }
  }
  try {
    const double n = static_cast<double>(ordinals_.size());
    const double avgdl = average_length();
    const double k1 = options_.k1, b = options_.b;
    // The one place a posting's score is computed, so that every path below computes the same
    // bits for it (ragd_lexical is built without FMA, so no path contracts it differently).
    auto contribution = [&](double idf, uint32_t tf_count, uint32_t length) {
      const double tf = tf_count;
      const double dl = length;
      const double norm = avgdl > 0 ? 1.0 - b + b * dl / avgdl : 1.0;
      return idf * tf * (k1 + 1.0) / (tf + k1 * norm);
    };
    struct Leg {
      const Posting* begin;
      const Posting* end;
      const Term::Block* blocks;
      double idf;
      double bound;  // no posting of the term adds more (kSlack above it)
    };
    // In query order: the order in which every score is summed.
    std::vector<Leg> legs;
    legs.reserve(query_terms.size());
    for (size_t q = 0; q < query_terms.size(); ++q) {
      auto it = term_ids_.find(query_terms[q]);
      if (it == term_ids_.end()) continue;
      const Term& t = terms_[it->second];
      if (t.df == 0) continue;
      const double df = static_cast<double>(t.df);
      // A weight scales the idf: contribution() is linear in it, so every path (bounds
      // included) scores the weighted term alike. Unweighted, the idf is exactly as before.
      double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      if (!options.weights.empty()) idf *= options.weights[q];
      // The tf part grows with tf and shrinks with the document's length.
      const double bound = contribution(idf, t.max_tf, t.min_length);
      legs.push_back(Leg{t.postings.data(), t.postings.data() + t.postings.size(), t.blocks.data(),
                         idf, bound * (1 + kSlack)});
    }
    const size_t k = options.top_k;
    std::vector<Bm25Hit> hits;
    if (legs.empty()) return hits;

    if (options.exhaustive) {
      Accumulator& acc = tls_accumulator;
      struct Clear {
        Accumulator& acc;
        ~Clear() {
          for (uint32_t o : acc.touched) acc.score[o] = 0;
          acc.touched.clear();
        }
      } clear{acc};
      if (acc.score.size() < labels_.size()) acc.score.resize(labels_.size(), 0.0);
      for (const Leg& leg : legs) {
        for (const Posting* p = leg.begin; p != leg.end; ++p) {
          if (dead_[p->ordinal] != 0) continue;
          double& s = acc.score[p->ordinal];
          if (s == 0) acc.touched.push_back(p->ordinal);  // every contribution is > 0
          s += contribution(leg.idf, p->tf, lengths_[p->ordinal]);
        }
      }
      hits.reserve(acc.touched.size());
      for (uint32_t o : acc.touched) {
        if (options.filter != nullptr && !options.filter->Accept(labels_[o])) continue;
        hits.push_back(Bm25Hit{labels_[o], acc.score[o]});
      }
      const size_t top = std::min(k, hits.size());
      std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(top), hits.end(),
                        Better);
      hits.resize(top);
      return hits;
    }

    // MaxScore, document at a time. Cursors ordered by bound, lowest first; upper[i] is what
    // the cursors 0..i can add together at most. Cursors [0, essential) are non-essential.
    const size_t m = legs.size();
    std::vector<size_t> order(m);
    for (size_t i = 0; i < m; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return legs[x].bound < legs[y].bound; });
    struct Cursor {
      const Posting* at;
      const Posting* end;
      double idf;
      size_t leg;  // index in query order
      const Posting* begin;
      const Term::Block* blocks;
      // block_bound's cache: the block at or after the last document asked about, its first
      // and last ordinals and its bound (kEnd, kEnd, 0 past the last block).
      size_t block = 0;
      Ordinal block_first = 0;
      Ordinal block_last = 0;
      double block_score = 0;
    };
    std::vector<Cursor> cursors(m);
    std::vector<double> upper(m);
    for (size_t i = 0; i < m; ++i) {
      const Leg& leg = legs[order[i]];
      cursors[i] = Cursor{leg.begin, leg.end, leg.idf, order[i], leg.begin, leg.blocks};
      upper[i] = (i > 0 ? upper[i - 1] : 0.0) + leg.bound;
    }
    // The contribution of each leg (query order) to the current document; 0 when absent.
    std::vector<double> part(m, 0.0);
    constexpr Ordinal kEnd = UINT32_MAX;
    const bool block_max = options.block_max;
    // The bound of the block b of c's postings, and its last ordinal.
    auto block_score = [&](const Cursor& c, size_t b) {
      return contribution(c.idf, c.blocks[b].max_tf, c.blocks[b].min_length) * (1 + kSlack);
    };
    auto block_last = [&](const Cursor& c, size_t b) {
      const size_t count = static_cast<size_t>(c.end - c.begin);
      return c.begin[std::min(count, (b + 1) * kBlock) - 1].ordinal;
    };
    auto load_block = [&](Cursor& c) {
      const size_t count = static_cast<size_t>(c.end - c.begin);
      if (c.block * kBlock >= count) {
        c.block_first = c.block_last = kEnd;
        c.block_score = 0;
        return;
      }
      c.block_first = c.begin[c.block * kBlock].ordinal;
      c.block_last = block_last(c, c.block);
      c.block_score = block_score(c, c.block);
    };
    if (block_max) {
      for (Cursor& c : cursors) load_block(c);
    }
    auto min_ordinal = [&](size_t from) {
      Ordinal next = kEnd;
      for (size_t i = from; i < m; ++i) {
        if (cursors[i].at != cursors[i].end) next = std::min(next, cursors[i].at->ordinal);
      }
      return next;
    };
    // First posting at or after `target` (galloping, then binary search: the probe of a long
    // list for a few documents skips most of it).
    auto seek = [](Cursor& c, Ordinal target) {
      if (c.at == c.end || c.at->ordinal >= target) return;
      size_t step = 1;
      const Posting* lo = c.at;
      while (lo + step < c.end && lo[step].ordinal < target) {
        lo += step;
        step *= 2;
      }
      const Posting* hi = lo + step < c.end ? lo + step + 1 : c.end;
      c.at = std::lower_bound(lo + 1, hi, target,
                              [](const Posting& p, Ordinal t) { return p.ordinal < t; });
    };
    // Block-max (PISA's block_max_maxscore_query, Lucene's impacts): what cursor c can add to
    // document `target` at most, from the one block that would hold it; moves c.block there
    // (targets only grow). 0 when the list holds no posting in the block's range.
    auto block_bound = [&](Cursor& c, Ordinal target) {
      while (target > c.block_last) {  // ends: past the last block, block_last is kEnd
        ++c.block;
        load_block(c);
      }
      return target < c.block_first ? 0.0 : c.block_score;
    };
    // After block_bound(c, target): the posting for `target`, if any, is in c.block.
    auto seek_in_block = [](Cursor& c, Ordinal target) {
      const size_t count = static_cast<size_t>(c.end - c.begin);
      const Posting* lo = std::max(c.at, c.begin + std::min(count, c.block * kBlock));
      const Posting* hi = c.begin + std::min(count, (c.block + 1) * kBlock);
      if (lo >= hi) {
        c.at = std::max(c.at, hi);
        return;
      }
      c.at = std::lower_bound(lo, hi, target,
                              [](const Posting& p, Ordinal t) { return p.ordinal < t; });
    };
    std::vector<double> block_upper(block_max ? m : 0);
    Bm25SearchStats stats;
    hits.reserve(std::min(k, ordinals_.size()));  // k comes from the caller: not trusted
    size_t essential = 0;
    // The k-th best score less the margin: 0 until k hits are held, or the primed floor.
    double floor = 0;
    if (options.prime && options.filter == nullptr && m > 1) {
      // Threshold priming: any k documents' scores bound the final k-th best from below, so
      // the first 2k live documents of the highest-bound (rarest) term are scored in full
      // (each other list probed by binary search) and their k-th best starts the floor.
      // Documents in ordinal order would otherwise fill the heap with low scores first, and
      // the long lists of common terms would stay essential until it rose. Without a filter
      // only: a filtered-out document must not raise the floor.
      const Cursor& rare = cursors[m - 1];
      std::vector<double> primed;
      primed.reserve(std::min<size_t>(2 * k, static_cast<size_t>(rare.end - rare.at)));
      for (const Posting* p = rare.at; p != rare.end && primed.size() < 2 * k; ++p) {
        if (dead_[p->ordinal] != 0) continue;
        double score = contribution(rare.idf, p->tf, lengths_[p->ordinal]);
        for (size_t i = 0; i + 1 < m; ++i) {
          const Cursor& c = cursors[i];
          const Posting* q = std::lower_bound(
              c.at, c.end, p->ordinal, [](const Posting& x, Ordinal t) { return x.ordinal < t; });
          if (q != c.end && q->ordinal == p->ordinal) {
            score += contribution(c.idf, q->tf, lengths_[p->ordinal]);
          }
        }
        primed.push_back(score);
      }
      if (primed.size() >= k) {
        std::nth_element(primed.begin(), primed.begin() + static_cast<std::ptrdiff_t>(k - 1),
                         primed.end(), std::greater<double>());
        floor = primed[k - 1] * (1 - kSlack);
        while (essential < m && upper[essential] < floor) ++essential;
      }
    }
    Ordinal current = min_ordinal(0);
    // Block-max over the essential lists (as Lucene's MaxScoreBulkScorer windows): up to
    // window_end every essential list's postings lie in the block its cursor is in, so their
    // blocks' bounds plus the non-essential terms' bounds cap every score there; below the
    // k-th best, the whole window is skipped without touching its postings.
    Ordinal window_end = 0;
    bool window_checked = false;
    while (current != kEnd && essential < m) {
      if (block_max && hits.size() == k && (!window_checked || current > window_end)) {
        window_checked = true;
        window_end = kEnd;
        double bound = essential > 0 ? upper[essential - 1] : 0.0;
        for (size_t i = essential; i < m; ++i) {
          const Cursor& c = cursors[i];
          if (c.at == c.end) continue;
          const size_t b = static_cast<size_t>(c.at - c.begin) / kBlock;
          window_end = std::min(window_end, block_last(c, b));
          bound += block_score(c, b);
        }
        if (bound < floor) {
          ++stats.windows_skipped;
          for (size_t i = essential; i < m; ++i) seek(cursors[i], window_end + 1);
          current = min_ordinal(essential);
          window_checked = false;
          continue;
        }
      }
      Ordinal next = kEnd;
      double partial = 0;
      const bool dead = dead_[current] != 0;
      const double length_of_current = lengths_[current];
      for (size_t i = essential; i < m; ++i) {
        Cursor& c = cursors[i];
        if (c.at != c.end && c.at->ordinal == current) {
          if (!dead) {
            const double s =
                contribution(c.idf, c.at->tf, static_cast<uint32_t>(length_of_current));
            part[c.leg] = s;
            partial += s;
          }
          ++c.at;
        }
        if (c.at != c.end) next = std::min(next, c.at->ordinal);
      }
      bool candidate = !dead;
      if (candidate) ++stats.candidates;
      // The bounds of what the non-essential lists 0..i can still add: their blocks' bounds
      // at this document (block-max) or their terms' bounds.
      const double* rest = upper.data();
      if (candidate && block_max && essential > 0 && partial + upper[essential - 1] >= floor) {
        double sum = 0;
        for (size_t i = 0; i < essential; ++i) {
          sum += block_bound(cursors[i], current);
          block_upper[i] = sum;
        }
        rest = block_upper.data();
        if (partial + sum < floor) {
          candidate = false;
          ++stats.block_dropped;
        }
      }
      for (size_t i = essential; candidate && i-- > 0;) {
        // The non-essential terms, highest bound first, while they can still lift the
        // document to the k-th best.
        if (partial + rest[i] < floor) {
          candidate = false;
          break;
        }
        Cursor& c = cursors[i];
        ++stats.probes;
        if (rest == block_upper.data()) {
          seek_in_block(c, current);
        } else {
          seek(c, current);
        }
        if (c.at != c.end && c.at->ordinal == current) {
          const double s = contribution(c.idf, c.at->tf, static_cast<uint32_t>(length_of_current));
          part[c.leg] = s;
          partial += s;
        }
      }
      if (candidate && partial >= floor &&
          (options.filter == nullptr || options.filter->Accept(labels_[current]))) {
        double score = 0;
        for (size_t j = 0; j < m; ++j) score += part[j];  // query order, as exhaustive sums
        const Bm25Hit hit{labels_[current], score};
        if (hits.size() < k) {
          hits.push_back(hit);
          std::push_heap(hits.begin(), hits.end(), Better);  // the worst hit on top
        } else if (Better(hit, hits.front())) {
          std::pop_heap(hits.begin(), hits.end(), Better);
          hits.back() = hit;
          std::push_heap(hits.begin(), hits.end(), Better);
        }
        if (hits.size() == k) {
          floor = std::max(floor, hits.front().score * (1 - kSlack));
          // A document held only by terms whose bounds sum below the k-th best cannot enter
          // (not even on a tie: the margin keeps it strictly below).
          while (essential < m && upper[essential] < floor) ++essential;
        }
      }
      std::fill(part.begin(), part.end(), 0.0);
      current = next;
    }
    std::sort_heap(hits.begin(), hits.end(), Better);
    if (options.stats != nullptr) {
      options.stats->candidates += stats.candidates;
      options.stats->block_dropped += stats.block_dropped;
      options.stats->probes += stats.probes;
      options.stats->windows_skipped += stats.windows_skipped;
    }
    return hits;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("bm25: out of memory");
  }
}
}  // namespace ragd::index::lexical
