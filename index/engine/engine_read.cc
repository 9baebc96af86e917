// The engine's read path: points by id, searches across a collection's shards (merge,
// min_score, payloads from RocksDB), counts and Verify. The catalog and the write path are in
// engine.cc.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string_view>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/status.h"
#include "common/utf8.h"
#include "index/engine/engine.h"
#include "index/engine/engine_impl.h"
#include "index/engine/fusion.h"
#include "index/engine/shard.h"
#include "index/engine/validate.h"
#include "index/lexical/feedback.h"
#include "index/storage/store.h"

namespace ragd::index {

absl::StatusOr<std::vector<Point>> Engine::Impl::Get(std::string_view name,
                                                     const std::vector<std::string>& ids,
                                                     bool with_vectors) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(ValidateIds(ids, "ids"));
  std::vector<Point> out;
  for (const auto& id : ids) {
    const auto key = c->shards[c->ShardOf(id)]->key();
    ASSIGN_OR_RETURN(auto rec, store_->GetPoint(key, id));
    if (!rec) continue;
    Point p{id, {}, std::move(rec->text), std::move(rec->document_id), std::move(rec->metadata)};
    if (with_vectors) {
      ASSIGN_OR_RETURN(auto v, store_->GetVector(key, rec->label, c->spec.dimension));
      if (v) p.vector = std::move(*v);
    }
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// One entry of a ranked list: a shard's label (unique per shard, so a point rewritten between
// the legs appears under two keys and the stale one is dropped with the payload check).
struct Ranked {
  size_t shard;
  Shard::Hit hit;
  std::optional<LegHit> vector_leg;
  std::optional<LegHit> text_leg;
};

bool BetterHit(const Ranked& a, const Ranked& b) {
  if (a.hit.score != b.hit.score) return a.hit.score > b.hit.score;
  return a.hit.id < b.hit.id;
}

// Merges the shards' lists of one leg into its best `depth`, ranked 1.., noting the leg.
std::vector<Ranked> MergeLeg(std::vector<Ranked> all, size_t depth, bool vector_leg) {
  std::sort(all.begin(), all.end(), BetterHit);
  if (all.size() > depth) all.resize(depth);
  for (size_t i = 0; i < all.size(); ++i) {
    LegHit leg{static_cast<uint32_t>(i + 1), all[i].hit.score};
    (vector_leg ? all[i].vector_leg : all[i].text_leg) = leg;
  }
  return all;
}

// A leg's scores, best first, as FusionContributions takes them.
std::vector<double> LegScores(const std::vector<Ranked>& leg) {
  std::vector<double> out;
  out.reserve(leg.size());
  for (const Ranked& r : leg) out.push_back(r.hit.score);
  return out;
}

std::vector<Ranked> Fuse(const std::vector<Ranked>& vec, const std::vector<Ranked>& text,
                         const HybridOptions& o) {
  std::vector<Ranked> out;
  absl::flat_hash_map<std::pair<size_t, Label>, size_t> at;
  std::vector<double> scores;
  const std::vector<double> cv = FusionContributions(LegScores(vec), /*vector_leg=*/true, o);
  const std::vector<double> ct = FusionContributions(LegScores(text), /*vector_leg=*/false, o);
  auto add = [&](const Ranked& r, double contribution) {
    auto [it, fresh] = at.try_emplace(std::make_pair(r.shard, r.hit.label), out.size());
    if (fresh) {
      out.push_back(r);
      scores.push_back(0);
    } else {
      Ranked& m = out[it->second];
      if (r.vector_leg) m.vector_leg = r.vector_leg;
      if (r.text_leg) m.text_leg = r.text_leg;
    }
    scores[it->second] += contribution;
  };
  for (size_t i = 0; i < vec.size(); ++i) add(vec[i], cv[i]);
  for (size_t i = 0; i < text.size(); ++i) add(text[i], ct[i]);
  for (size_t i = 0; i < out.size(); ++i) out[i].hit.score = static_cast<float>(scores[i]);
  std::sort(out.begin(), out.end(), BetterHit);
  return out;
}

// The stored records of `hits` (any mix of shards), in their order: one MultiGet per shard;
// nullopt for a point that is gone.
absl::StatusOr<std::vector<std::optional<storage::PointRecord>>> RecordsOf(
    const storage::Store& store, const std::vector<std::unique_ptr<Shard>>& shards,
    const std::vector<Ranked>& hits) {
  std::vector<std::optional<storage::PointRecord>> records(hits.size());
  for (size_t s = 0; s < shards.size(); ++s) {
    std::vector<size_t> at;
    std::vector<std::string_view> ids;
    for (size_t i = 0; i < hits.size(); ++i) {
      if (hits[i].shard != s) continue;
      at.push_back(i);
      ids.push_back(hits[i].hit.id);
    }
    if (ids.empty()) continue;
    ASSIGN_OR_RETURN(auto got, store.MultiGetPoints(shards[s]->key(), ids));
    for (size_t j = 0; j < at.size(); ++j) records[at[j]] = std::move(got[j]);
  }
  return records;
}

}  // namespace

absl::StatusOr<SearchResult> Engine::Impl::Search(const SearchRequest& request) const {
  ASSIGN_OR_RETURN(auto c, Find(request.collection));
  if (request.k < 1 || request.k > options_.max_k) {
    return absl::InvalidArgumentError("k: must be in [1, " + std::to_string(options_.max_k) +
                                      "], got " + std::to_string(request.k));
  }
  if (request.ef < 0 || request.ef > kMaxEf) {
    return absl::InvalidArgumentError("ef: must be in [0, " + std::to_string(kMaxEf) +
                                      "] (0 = the collection's default)");
  }
  if (request.min_score && !std::isfinite(*request.min_score)) {
    return absl::InvalidArgumentError("min_score: must be a finite number");
  }
  if (request.filter) RETURN_IF_ERROR(request.filter->Validate());
  if (!(request.oversampling == 0 ||
        (request.oversampling >= 1 && request.oversampling <= 100))) {
    return absl::InvalidArgumentError("oversampling: must be 0 (the default) or in [1, 100]");
  }
  const bool want_vector = request.mode != SearchMode::kText;
  const bool want_text = request.mode != SearchMode::kVector;
  std::vector<float> query = request.query;
  if (want_vector) RETURN_IF_ERROR(ValidateAndNormalizeQuery(c->spec, query, "vector"));
  std::vector<std::string> terms;
  if (want_text) {
    if (c->analyzer == nullptr) {
      return absl::FailedPreconditionError("collection \"" + c->spec.name +
                                           "\" has no lexical index (text and hybrid search "
                                           "need one: set lexical at creation)");
    }
    if (request.text.empty()) return absl::InvalidArgumentError("text: must not be empty");
    if (request.text.size() > options_.max_text_bytes) {
      return absl::InvalidArgumentError("text: " + std::to_string(request.text.size()) +
                                        " bytes exceed the limit of " +
                                        std::to_string(options_.max_text_bytes));
    }
    if (!IsValidUtf8(request.text)) return absl::InvalidArgumentError("text: is not valid UTF-8");
    RETURN_IF_ERROR(request.feedback.Validate());
    // Analysis before any shard lock: it is the expensive, pure part of a text search.
    ASSIGN_OR_RETURN(terms, c->analyzer->Analyze(request.text));
  }
  const HybridOptions& h = request.hybrid;
  size_t vector_depth = request.k;
  size_t text_depth = request.k;
  if (request.mode == SearchMode::kHybrid) {
    if (!(h.rrf_k >= 1 && h.rrf_k <= 10000)) {
      return absl::InvalidArgumentError("rrf_k: must be in [1, 10000]");
    }
    if (h.alpha && !(*h.alpha >= 0 && *h.alpha <= 1))
      return absl::InvalidArgumentError("alpha: must be in [0, 1]");
    const size_t fallback = std::max(request.k, std::min<size_t>(options_.max_k, 50));
    for (auto [value, name, depth] :
         {std::tuple{h.vector_candidates, "vector_candidates", &vector_depth},
          std::tuple{h.text_candidates, "text_candidates", &text_depth}}) {
      if (value != 0 && (value < request.k || value > options_.max_k)) {
        return absl::InvalidArgumentError(std::string(name) + ": must be 0 or in [k, " +
                                          std::to_string(options_.max_k) + "], got " +
                                          std::to_string(value));
      }
      *depth = value == 0 ? fallback : value;
    }
  }

  SearchResult result;
  const Filter* filter = request.filter ? &*request.filter : nullptr;
  auto run_vector_leg = [&]() -> absl::StatusOr<std::vector<Ranked>> {
    std::vector<Ranked> all;
    for (size_t s = 0; s < c->shards.size(); ++s) {
      SearchPlan plan = SearchPlan::kIndex;
      ASSIGN_OR_RETURN(auto hits, c->shards[s]->Search(
                                      query, vector_depth, request.ef, filter, &plan,
                                      Shard::Rescoring{request.rescore, request.oversampling}));
      result.plan = std::max(result.plan, plan);
      for (auto& hit : hits) all.push_back(Ranked{s, std::move(hit), {}, {}});
    }
    return MergeLeg(std::move(all), vector_depth, /*vector_leg=*/true);
  };
  auto text_search = [&](std::span<const std::string> q, std::span<const double> weights,
                         size_t depth) -> absl::StatusOr<std::vector<Ranked>> {
    std::vector<Ranked> all;
    for (size_t s = 0; s < c->shards.size(); ++s) {
      ASSIGN_OR_RETURN(auto hits, c->shards[s]->SearchText(q, depth, filter, weights));
      for (auto& hit : hits) all.push_back(Ranked{s, std::move(hit), {}, {}});
    }
    return MergeLeg(std::move(all), depth, /*vector_leg=*/false);
  };
  const lexical::FeedbackOptions& feedback = request.feedback;
  auto run_text_leg = [&]() -> absl::StatusOr<std::vector<Ranked>> {
    if (!feedback.enabled()) return text_search(terms, {}, text_depth);
    // RM3: the first search's best hits, analysed again from their stored texts (the index
    // keeps term ids, not the terms), expand the query for the second search.
    ASSIGN_OR_RETURN(auto first, text_search(terms, {}, feedback.docs));
    std::vector<lexical::FeedbackDocument> docs(first.size());
    ASSIGN_OR_RETURN(auto got, RecordsOf(*store_, c->shards, first));
    for (size_t i = 0; i < first.size(); ++i) {
      // Deleted or rewritten since the search: not the text that was scored; left out.
      if (!got[i] || got[i]->label != first[i].hit.label) continue;
      ASSIGN_OR_RETURN(auto analysed, c->analyzer->Analyze(got[i]->text));
      docs[i].terms = lexical::CountTerms(analysed);
      docs[i].score = first[i].hit.score;
    }
    absl::flat_hash_map<std::string_view, uint64_t> doc_freq;
    for (const auto& d : docs) {
      for (const auto& t : d.terms) doc_freq.try_emplace(t.term, 0);
    }
    std::vector<std::string_view> stat_terms;
    stat_terms.reserve(doc_freq.size());
    for (const auto& [t, df] : doc_freq) stat_terms.push_back(t);
    std::vector<uint64_t> dfs(stat_terms.size(), 0);
    uint64_t documents = 0;
    for (const auto& shard : c->shards) shard->AddTextStatistics(stat_terms, dfs, &documents);
    for (size_t i = 0; i < stat_terms.size(); ++i) doc_freq[stat_terms[i]] = dfs[i];
    const auto expanded = lexical::ExpandQuery(
        terms, docs,
        [&doc_freq](std::string_view t) -> uint64_t {
          auto it = doc_freq.find(t);
          return it == doc_freq.end() ? 0 : it->second;
        },
        documents, feedback);
    std::vector<std::string> q;
    std::vector<double> weights;
    q.reserve(expanded.size());
    weights.reserve(expanded.size());
    for (const auto& w : expanded) {
      q.push_back(w.term);
      weights.push_back(w.weight);
    }
    return text_search(q, weights, text_depth);
  };
  // Hybrid: the text leg is offered to an idle helper thread while this thread runs the
  // vector leg. If the helper has not started it by the time the vector leg is done (a busy
  // machine schedules it late), this thread takes it back and runs it itself, so a hand-off
  // never costs more than running the legs one after the other plus a lock. The helper's
  // result is waited for before anything it refers to goes away (no return, no exception in
  // between); `pending` is shared, so whichever side finishes last frees it.
  using LegResult = absl::StatusOr<std::vector<Ranked>>;
  enum class LegState { kOffered, kRunning, kDone, kTakenBack };
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    LegState state = LegState::kOffered;
    LegResult result = std::vector<Ranked>{};
  };
  std::shared_ptr<Pending> pending;
  // The way this search's legs run (leg_governor.h), when there is a choice to make.
  std::optional<LegGovernor::Way> way;
  std::chrono::steady_clock::time_point legs_started;
  if (want_vector && want_text && options_.search_leg_threads > 0) {
    legs_started = std::chrono::steady_clock::now();
    way = leg_governor_.Choose();
  }
  if (way == LegGovernor::Way::kHandOff) {
    pending = std::make_shared<Pending>();
    const bool handed = leg_helpers_->TryHandOff([pending, &run_text_leg] {
      {
        std::lock_guard lock(pending->mu);
        if (pending->state != LegState::kOffered) return;  // taken back: not ours to touch
        pending->state = LegState::kRunning;
      }
      LegResult r = std::vector<Ranked>{};
      try {
        r = run_text_leg();
      } catch (const std::bad_alloc&) {
        r = absl::ResourceExhaustedError("search: out of memory in the text leg");
      } catch (...) {
        r = absl::InternalError("search: the text leg failed");
      }
      {
        std::lock_guard lock(pending->mu);
        pending->result = std::move(r);
        pending->state = LegState::kDone;
      }
      pending->cv.notify_one();
    });
    if (!handed) {
      pending.reset();
      way = LegGovernor::Way::kSequential;  // no helper was idle: that is what ran
    }
  }
  // The helper's result, or nullopt when it had not started (it never will now).
  auto collect_text_leg = [&pending]() -> std::optional<LegResult> {
    std::unique_lock lock(pending->mu);
    if (pending->state == LegState::kOffered) {
      pending->state = LegState::kTakenBack;
      return std::nullopt;
    }
    pending->cv.wait(lock, [&] { return pending->state == LegState::kDone; });
    return std::move(pending->result);
  };
  LegResult vector_result = std::vector<Ranked>{};
  LegResult text_result = std::vector<Ranked>{};
  if (want_vector) {
    try {
      vector_result = run_vector_leg();
    } catch (...) {
      if (pending) (void)collect_text_leg();
      throw;
    }
  }
  if (want_text) {
    std::optional<LegResult> from_helper;
    if (pending) from_helper = collect_text_leg();
    text_result = from_helper ? *std::move(from_helper) : run_text_leg();
  }
  if (way) {
    leg_governor_.Record(*way, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - legs_started)
                                   .count());
  }
  RETURN_IF_ERROR(vector_result.status());
  RETURN_IF_ERROR(text_result.status());
  std::vector<Ranked> vector_leg = *std::move(vector_result);
  std::vector<Ranked> text_leg = *std::move(text_result);
  std::vector<Ranked> merged;
  switch (request.mode) {
    case SearchMode::kVector:
      merged = std::move(vector_leg);
      break;
    case SearchMode::kText:
      merged = std::move(text_leg);
      break;
    case SearchMode::kHybrid:
      merged = Fuse(vector_leg, text_leg, h);
      break;
  }
  if (request.mode == SearchMode::kHybrid) {
    // A point rewritten between the legs has two labels; keep its best entry.
    absl::flat_hash_set<std::string> seen;
    std::vector<Ranked> unique;
    for (auto& m : merged) {
      if (unique.size() == request.k) break;
      if (seen.insert(m.hit.id).second) unique.push_back(std::move(m));
    }
    merged = std::move(unique);
  }
  if (merged.size() > request.k) merged.resize(request.k);
  if (request.min_score) {
    std::erase_if(merged, [&](const Ranked& m) { return m.hit.score < *request.min_score; });
  }
  // Payloads come from RocksDB (the index holds vectors only), one MultiGet per shard.
  std::vector<std::optional<storage::PointRecord>> records(merged.size());
  if (request.with_payload || request.with_vectors) {
    ASSIGN_OR_RETURN(records, RecordsOf(*store_, c->shards, merged));
  }
  result.hits.reserve(merged.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    auto& m = merged[i];
    ScoredPoint sp;
    sp.point.id = std::move(m.hit.id);
    sp.score = m.hit.score;
    sp.vector_leg = m.vector_leg;
    sp.text_leg = m.text_leg;
    if (request.with_payload || request.with_vectors) {
      auto& rec = records[i];
      // A point deleted after the index answered and before this read is being deleted right
      // now: its delete has not returned yet, so leaving it out is correct.
      if (!rec) continue;
      // Likewise a point rewritten meanwhile: every write of a point gets a new label, so a
      // record with another label is not the version that was scored and filtered, and its
      // payload may fail the filter. Left out for the same reason.
      if (rec->label != m.hit.label) continue;
      if (request.with_vectors) {
        ASSIGN_OR_RETURN(
            auto v, store_->GetVector(c->shards[m.shard]->key(), rec->label, c->spec.dimension));
        if (v) sp.point.vector = std::move(*v);
      }
      if (request.with_payload) {
        sp.point.text = std::move(rec->text);
        sp.point.document_id = std::move(rec->document_id);
        sp.point.metadata = std::move(rec->metadata);
      }
    }
    result.hits.push_back(std::move(sp));
  }
  return result;
}

absl::StatusOr<uint64_t> Engine::Impl::Count(std::string_view name,
                                             const std::optional<Filter>& filter) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  if (filter) RETURN_IF_ERROR(filter->Validate());
  uint64_t n = 0;
  for (const auto& s : c->shards) n += s->Count(filter ? &*filter : nullptr);
  return n;
}

absl::StatusOr<VerifyReport> Engine::Impl::Verify(std::string_view name,
                                                  const VerifyOptions& options) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  if (options.ef < 1 || options.ef > kMaxEf) {
    return absl::InvalidArgumentError("ef: must be in [1, " + std::to_string(kMaxEf) + "]");
  }
  VerifyReport report;
  std::vector<uint64_t> lives;
  uint64_t live = 0;
  for (const auto& s : c->shards) live += lives.emplace_back(s->live());
  for (size_t i = 0; i < c->shards.size(); ++i) {
    // The budget is shared in proportion to each shard's points, rounded up.
    const uint64_t budget = live == 0 ? 0 : (options.max_searches * lives[i] + live - 1) / live;
    RETURN_IF_ERROR(c->shards[i]->Verify(c->write_mu, options, budget, &report));
  }
  return report;
}

}  // namespace ragd::index
