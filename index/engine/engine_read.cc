// The engine's read path: points by id, searches across a collection's shards (merge,
// min_score, payloads from RocksDB), counts and Verify. The catalog and the write path are in
// engine.cc.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "index/engine/engine.h"
#include "index/engine/engine_impl.h"
#include "index/engine/shard.h"
#include "index/engine/validate.h"
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
  std::vector<float> query = request.query;
  RETURN_IF_ERROR(ValidateAndNormalizeQuery(c->spec, query, "vector"));

  struct Merged {
    size_t shard;
    Shard::Hit hit;
  };
  std::vector<Merged> merged;
  SearchResult result;
  for (size_t s = 0; s < c->shards.size(); ++s) {
    SearchPlan plan = SearchPlan::kIndex;
    ASSIGN_OR_RETURN(auto hits,
                     c->shards[s]->Search(query, request.k, request.ef,
                                          request.filter ? &*request.filter : nullptr, &plan,
                                          Shard::Rescoring{request.rescore, request.oversampling}));
    result.plan = std::max(result.plan, plan);
    for (auto& h : hits) merged.push_back(Merged{s, std::move(h)});
  }
  std::sort(merged.begin(), merged.end(),
            [](const Merged& a, const Merged& b) { return a.hit.score > b.hit.score; });
  if (merged.size() > request.k) merged.resize(request.k);
  if (request.min_score) {
    std::erase_if(merged, [&](const Merged& m) { return m.hit.score < *request.min_score; });
  }
  // Payloads come from RocksDB (the index holds vectors only), one MultiGet per shard.
  std::vector<std::optional<storage::PointRecord>> records(merged.size());
  if (request.with_payload || request.with_vectors) {
    for (size_t s = 0; s < c->shards.size(); ++s) {
      std::vector<size_t> at;
      std::vector<std::string_view> ids;
      for (size_t i = 0; i < merged.size(); ++i) {
        if (merged[i].shard != s) continue;
        at.push_back(i);
        ids.push_back(merged[i].hit.id);
      }
      if (ids.empty()) continue;
      ASSIGN_OR_RETURN(auto got, store_->MultiGetPoints(c->shards[s]->key(), ids));
      for (size_t j = 0; j < at.size(); ++j) records[at[j]] = std::move(got[j]);
    }
  }
  result.hits.reserve(merged.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    auto& m = merged[i];
    ScoredPoint sp;
    sp.point.id = std::move(m.hit.id);
    sp.score = m.hit.score;
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
