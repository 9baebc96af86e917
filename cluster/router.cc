#include "cluster/router.h"

#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "index/engine/fusion.h"
#include "spdlog/spdlog.h"

namespace ragd::cluster {
namespace {

// "host:port" with a port in 1..65535 (IPv6 hosts in brackets).
bool ValidHostPort(std::string_view entry) {
  const size_t colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int port = 0;
  if (!absl::SimpleAtoi(absl::string_view(entry.data() + colon + 1, entry.size() - colon - 1),
                        &port)) {
    return false;
  }
  return port >= 1 && port <= 65535;
}

// Every A/AAAA record of `name` as "ip:port" ("[ip6]:port"), sorted. Empty on failure.
std::vector<std::string> Resolve(const std::string& name, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::set<std::string> out;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return {};
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof(buf));
      out.insert(absl::StrCat(buf, ":", port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                sizeof(buf));
      out.insert(absl::StrCat("[", buf, "]:", port));
    }
  }
  freeaddrinfo(res);
  return {out.begin(), out.end()};
}

bool BetterHit(const index::ScoredPoint& a, const index::ScoredPoint& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.point.id < b.point.id;
}

// The union of the groups' lists of one leg, best `depth` first, ranks renumbered 1.. (as the
// engine's MergeLeg does over its shards).
std::vector<index::ScoredPoint> MergeLeg(std::vector<std::vector<index::ScoredPoint>> lists,
                                         size_t depth, bool vector_leg) {
  std::vector<index::ScoredPoint> all;
  for (auto& l : lists) {
    for (auto& h : l) all.push_back(std::move(h));
  }
  std::sort(all.begin(), all.end(), BetterHit);
  if (all.size() > depth) all.resize(depth);
  for (size_t i = 0; i < all.size(); ++i) {
    index::LegHit leg{static_cast<uint32_t>(i + 1), all[i].score};
    (vector_leg ? all[i].vector_leg : all[i].text_leg) = leg;
  }
  return all;
}

// A leg's scores, best first, as index::FusionContributions takes them.
std::vector<double> LegScores(const std::vector<index::ScoredPoint>& leg) {
  std::vector<double> out;
  out.reserve(leg.size());
  for (const index::ScoredPoint& p : leg) out.push_back(p.score);
  return out;
}

// The engine's fusion (index/engine/engine_read.cc, Fuse) over merged legs, keyed by id.
std::vector<index::ScoredPoint> Fuse(std::vector<index::ScoredPoint> vec,
                                     std::vector<index::ScoredPoint> text,
                                     const index::HybridOptions& o) {
  std::vector<index::ScoredPoint> out;
  std::vector<double> scores;
  absl::flat_hash_map<std::string, size_t> at;
  const std::vector<double> cv = index::FusionContributions(LegScores(vec), true, o);
  const std::vector<double> ct = index::FusionContributions(LegScores(text), false, o);
  auto add = [&](index::ScoredPoint& p, double contribution) {
    auto [it, fresh] = at.try_emplace(p.point.id, out.size());
    if (fresh) {
      out.push_back(std::move(p));
      scores.push_back(0);
    } else {
      index::ScoredPoint& m = out[it->second];
      if (p.vector_leg) m.vector_leg = p.vector_leg;
      if (p.text_leg) m.text_leg = p.text_leg;
    }
    scores[it->second] += contribution;
  };
  for (size_t i = 0; i < vec.size(); ++i) add(vec[i], cv[i]);
  for (size_t i = 0; i < text.size(); ++i) add(text[i], ct[i]);
  for (size_t i = 0; i < out.size(); ++i) out[i].score = static_cast<float>(scores[i]);
  std::sort(out.begin(), out.end(), BetterHit);
  return out;
}

std::string ShardList(const std::vector<uint32_t>& shards) { return absl::StrJoin(shards, ", "); }

}  // namespace

// --- LocalShards -------------------------------------------------------------------------------

absl::Status LocalShards::Prepare(const std::string& collection,
                                  const std::vector<uint32_t>& shards,
                                  uint64_t min_applied_sequence, absl::Time deadline) const {
  if (min_applied_sequence > 0) {
    if (applier_ == nullptr) {
      return absl::FailedPreconditionError("min_applied_sequence: this pod applies no log");
    }
    RETURN_IF_ERROR(applier_->WaitForSequence(collection, min_applied_sequence, deadline));
  }
  ASSIGN_OR_RETURN(index::CollectionSpec spec, engine_->GetCollectionSpec(collection));
  const std::vector<uint32_t> mine = placement_.ShardsOf(placement_.group, spec.shards);
  if (shards != mine) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pod \"", pod_id_, "\" (shard group ", placement_.group, " of ", placement_.groups,
        ") holds shards [", ShardList(mine), "] of \"", collection, "\", asked for [",
        ShardList(shards), "]: the pods disagree on cluster.shard_groups"));
  }
  return absl::OkStatus();
}

absl::StatusOr<index::SearchResult> LocalShards::Search(const index::SearchRequest& request,
                                                        const std::vector<uint32_t>& shards,
                                                        uint64_t min_applied_sequence,
                                                        absl::Time deadline) const {
  RETURN_IF_ERROR(Prepare(request.collection, shards, min_applied_sequence, deadline));
  // The engine holds only this group's shards (the others stay empty): searching it all is
  // searching exactly `shards`.
  return engine_->Search(request);
}

absl::StatusOr<uint64_t> LocalShards::Count(const std::string& collection,
                                            const std::optional<index::Filter>& filter,
                                            const std::vector<uint32_t>& shards,
                                            uint64_t min_applied_sequence,
                                            absl::Time deadline) const {
  RETURN_IF_ERROR(Prepare(collection, shards, min_applied_sequence, deadline));
  return engine_->Count(collection, filter);
}

absl::StatusOr<std::vector<index::Point>> LocalShards::Get(const std::string& collection,
                                                           const std::vector<std::string>& ids,
                                                           bool with_vectors,
                                                           const std::vector<uint32_t>& shards,
                                                           uint64_t min_applied_sequence,
                                                           absl::Time deadline) const {
  RETURN_IF_ERROR(Prepare(collection, shards, min_applied_sequence, deadline));
  ASSIGN_OR_RETURN(index::CollectionSpec spec, engine_->GetCollectionSpec(collection));
  for (const std::string& id : ids) {
    if (!placement_.Holds(index::ShardOfId(id, spec.shards))) {
      return absl::InvalidArgumentError(absl::StrCat("ids: \"", id, "\" is not held by shard group ",
                                                     placement_.group));
    }
  }
  return engine_->Get(collection, ids, with_vectors);
}

// --- Router ------------------------------------------------------------------------------------

absl::Status RouterOptions::Validate() const {
  for (const std::string& p : peers) {
    std::string_view entry = p;
    if (entry.substr(0, 4) == "dns:") entry.remove_prefix(4);
    if (!ValidHostPort(entry)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "peers: \"", p, "\" is neither host:port nor dns:NAME:PORT (port 1..65535)"));
    }
  }
  if (probe_interval < std::chrono::milliseconds(10) || probe_timeout < std::chrono::milliseconds(10)) {
    return absl::InvalidArgumentError("probe_interval, probe_timeout: at least 10 ms");
  }
  if (max_k < 1) return absl::InvalidArgumentError("max_k: at least 1");
  return absl::OkStatus();
}

class Router::Impl {
 public:
  Impl(RouterOptions options, ShardTransport* transport, const LocalShards* local)
      : options_(std::move(options)), transport_(transport), local_(local) {}
  ~Impl() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { ProbeLoop(); });
  }

  void Stop() {
    {
      std::lock_guard l(stop_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::vector<PeerStatus> peers() const {
    std::lock_guard l(mu_);
    std::vector<PeerStatus> out;
    for (const auto& [address, p] : peers_) {
      PeerStatus s = p->status;
      s.in_flight = p->in_flight.load();
      out.push_back(std::move(s));
    }
    return out;
  }

  absl::StatusOr<Routed<index::SearchResult>> Search(const index::SearchRequest& request,
                                                     uint64_t min_seq, bool allow_partial,
                                                     absl::Time deadline) {
    const bool hybrid = request.mode == index::SearchMode::kHybrid;
    size_t vector_depth = request.k, text_depth = request.k;
    index::SearchRequest vector_req = request, text_req = request;
    if (hybrid) {
      // The legs are asked separately, so the fusion parameters are checked here, as the
      // engine would.
      const index::HybridOptions& h = request.hybrid;
      if (!(h.rrf_k >= 1 && h.rrf_k <= 10000)) {
        return absl::InvalidArgumentError("rrf_k: must be in [1, 10000]");
      }
      if (h.alpha && !(*h.alpha >= 0 && *h.alpha <= 1)) {
        return absl::InvalidArgumentError("alpha: must be in [0, 1]");
      }
      if (request.k < 1 || request.k > options_.max_k) {
        return absl::InvalidArgumentError(absl::StrCat("k: must be in [1, ", options_.max_k,
                                                       "], got ", request.k));
      }
      const size_t fallback = std::max(request.k, std::min<size_t>(options_.max_k, 50));
      for (auto [value, name, depth] :
           {std::tuple{h.vector_candidates, "vector_candidates", &vector_depth},
            std::tuple{h.text_candidates, "text_candidates", &text_depth}}) {
        if (value != 0 && (value < request.k || value > options_.max_k)) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": must be 0 or in [k, ",
                                                         options_.max_k, "], got ", value));
        }
        *depth = value == 0 ? fallback : value;
      }
      vector_req.mode = index::SearchMode::kVector;
      vector_req.k = vector_depth;
      vector_req.min_score.reset();
      text_req.mode = index::SearchMode::kText;
      text_req.k = text_depth;
      text_req.min_score.reset();
    }
    struct Legs {
      index::SearchResult vector, text;
    };
    ASSIGN_OR_RETURN(
        auto fanned,
        FanOut<Legs>(request.collection, allow_partial, deadline,
                     [&](const std::string* address, const std::vector<uint32_t>& shards,
                         absl::Time attempt_deadline) -> absl::StatusOr<Legs> {
                       Legs legs;
                       auto one = [&](const index::SearchRequest& r) {
                         return address == nullptr
                                    ? local_->Search(r, shards, min_seq, attempt_deadline)
                                    : transport_->Search(*address, r, shards, min_seq,
                                                         attempt_deadline);
                       };
                       ASSIGN_OR_RETURN(legs.vector, one(hybrid ? vector_req : request));
                       if (hybrid) {
                         ASSIGN_OR_RETURN(legs.text, one(text_req));
                       }
                       return legs;
                     }));
    Routed<index::SearchResult> out;
    out.coverage = std::move(fanned.coverage);
    std::vector<std::vector<index::ScoredPoint>> firsts, seconds;
    for (auto& legs : fanned.value) {
      out.value.plan = std::max(out.value.plan, legs.vector.plan);
      firsts.push_back(std::move(legs.vector.hits));
      seconds.push_back(std::move(legs.text.hits));
    }
    std::vector<index::ScoredPoint> merged;
    switch (request.mode) {
      case index::SearchMode::kVector:
        merged = MergeLeg(std::move(firsts), request.k, /*vector_leg=*/true);
        break;
      case index::SearchMode::kText:
        merged = MergeLeg(std::move(firsts), request.k, /*vector_leg=*/false);
        break;
      case index::SearchMode::kHybrid:
        merged = Fuse(MergeLeg(std::move(firsts), vector_depth, true),
                      MergeLeg(std::move(seconds), text_depth, false), request.hybrid);
        if (merged.size() > request.k) merged.resize(request.k);
        if (request.min_score) {
          std::erase_if(merged, [&](const index::ScoredPoint& p) {
            return p.score < *request.min_score;
          });
        }
        break;
    }
    out.value.hits = std::move(merged);
    return out;
  }

  absl::StatusOr<Routed<uint64_t>> Count(const std::string& collection,
                                         const std::optional<index::Filter>& filter,
                                         uint64_t min_seq, bool allow_partial,
                                         absl::Time deadline) {
    ASSIGN_OR_RETURN(auto fanned,
                     FanOut<uint64_t>(collection, allow_partial, deadline,
                                      [&](const std::string* address,
                                          const std::vector<uint32_t>& shards, absl::Time d) {
                                        return address == nullptr
                                                   ? local_->Count(collection, filter, shards,
                                                                   min_seq, d)
                                                   : transport_->Count(*address, collection,
                                                                       filter, shards, min_seq, d);
                                      }));
    Routed<uint64_t> out{0, std::move(fanned.coverage)};
    for (uint64_t n : fanned.value) out.value += n;
    return out;
  }

  absl::StatusOr<Routed<std::vector<index::Point>>> Get(const std::string& collection,
                                                        const std::vector<std::string>& ids,
                                                        bool with_vectors, uint64_t min_seq,
                                                        bool allow_partial, absl::Time deadline) {
    ASSIGN_OR_RETURN(index::CollectionSpec spec, local_->engine()->GetCollectionSpec(collection));
    const Placement& placement = local_->placement();
    std::vector<std::vector<std::string>> by_group(placement.groups);
    for (const std::string& id : ids) {
      by_group[placement.GroupOf(index::ShardOfId(id, spec.shards))].push_back(id);
    }
    ASSIGN_OR_RETURN(
        auto fanned,
        FanOut<std::vector<index::Point>>(
            collection, allow_partial, deadline,
            [&](const std::string* address, const std::vector<uint32_t>& shards,
                absl::Time d) -> absl::StatusOr<std::vector<index::Point>> {
              const std::vector<std::string>& mine =
                  by_group[placement.GroupOf(shards.front())];
              if (mine.empty()) return std::vector<index::Point>{};
              return address == nullptr
                         ? local_->Get(collection, mine, with_vectors, shards, min_seq, d)
                         : transport_->Get(*address, collection, mine, with_vectors, shards,
                                           min_seq, d);
            },
            /*skip_group=*/[&](uint32_t g) { return by_group[g].empty(); }));
    absl::flat_hash_map<std::string, index::Point> found;
    for (auto& points : fanned.value) {
      for (auto& p : points) {
        std::string id = p.id;
        found.emplace(std::move(id), std::move(p));
      }
    }
    Routed<std::vector<index::Point>> out;
    out.coverage = std::move(fanned.coverage);
    for (const std::string& id : ids) {
      auto it = found.find(id);
      if (it != found.end()) out.value.push_back(it->second);
    }
    return out;
  }

 private:
  struct Peer {
    PeerStatus status;  // guarded by Impl::mu_
    std::atomic<int> in_flight{0};
  };

  template <typename T>
  struct FanResult {
    std::vector<T> value;  // one per group that answered
    ShardCoverage coverage;
  };

  // Runs `call` once per shard group holding shards of the collection: locally (address null)
  // for this pod's group, else on ready peers of the group, the least loaded first, trying the
  // next while one answers UNAVAILABLE. Groups run in parallel.
  template <typename T, typename Call>
  absl::StatusOr<FanResult<T>> FanOut(
      const std::string& collection, bool allow_partial, absl::Time deadline, Call call,
      std::function<bool(uint32_t)> skip_group = nullptr) {
    struct Timer {
      const std::function<void(double)>& report;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~Timer() {
        if (report) {
          report(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
      }
    } timer{options_.on_fanout};
    ASSIGN_OR_RETURN(index::CollectionSpec spec, local_->engine()->GetCollectionSpec(collection));
    const Placement& placement = local_->placement();
    const uint32_t groups = placement.groups;
    std::vector<std::optional<absl::StatusOr<T>>> results(groups);
    std::vector<std::vector<uint32_t>> shards(groups);
    std::vector<std::thread> threads;
    for (uint32_t g = 0; g < groups; ++g) {
      shards[g] = placement.ShardsOf(g, spec.shards);
      if (shards[g].empty() || (skip_group && skip_group(g))) continue;
      if (g == placement.group) continue;  // run below, on this thread
      threads.emplace_back(
          [&, g] { results[g] = CallGroup<T>(g, shards[g], deadline, call); });
    }
    if (!shards[placement.group].empty() && !(skip_group && skip_group(placement.group))) {
      results[placement.group] = call(nullptr, shards[placement.group], deadline);
    }
    for (auto& t : threads) t.join();
    FanResult<T> out;
    out.coverage.shards_total = spec.shards;
    std::vector<std::string> missing_groups;
    for (uint32_t g = 0; g < groups; ++g) {
      if (shards[g].empty()) continue;
      if (!results[g].has_value()) {  // skipped: nothing to ask of it
        out.coverage.shards_answered += shards[g].size();
        continue;
      }
      absl::StatusOr<T>& r = *results[g];
      if (r.ok()) {
        out.coverage.shards_answered += shards[g].size();
        out.value.push_back(*std::move(r));
        continue;
      }
      const absl::StatusCode code = r.status().code();
      const bool unavailable = code == absl::StatusCode::kUnavailable ||
                               (allow_partial && code == absl::StatusCode::kDeadlineExceeded);
      if (!unavailable) return r.status();
      for (uint32_t s : shards[g]) out.coverage.missing_shards.push_back(s);
      missing_groups.push_back(absl::StrCat("shard group ", g, " (shards ", ShardList(shards[g]),
                                            "): ", r.status().message()));
    }
    std::sort(out.coverage.missing_shards.begin(), out.coverage.missing_shards.end());
    if (!missing_groups.empty() && !allow_partial) {
      return absl::UnavailableError(absl::StrCat(
          "collection \"", collection, "\": ", absl::StrJoin(missing_groups, "; "),
          " (allow_partial answers from the groups that remain)"));
    }
    return out;
  }

  // Tries the group's ready peers in turn. Each attempt but the last gets an even share of the
  // time left, so that a peer that stopped answering without closing its connections (a
  // network partition) leaves time for the next replica instead of using up the deadline.
  template <typename T, typename Call>
  absl::StatusOr<T> CallGroup(uint32_t g, const std::vector<uint32_t>& shards,
                              absl::Time deadline, Call& call) {
    std::vector<std::shared_ptr<Peer>> candidates = ReadyPeers(g);
    if (candidates.empty()) {
      return absl::UnavailableError(absl::StrCat("no ready replica (", Describe(g), ")"));
    }
    absl::Status last;
    for (size_t i = 0; i < candidates.size(); ++i) {  // bounded: each ready peer at most once
      const auto& peer = candidates[i];
      const size_t left = candidates.size() - i;
      const absl::Time now = absl::Now();
      const absl::Time attempt =
          left == 1 || deadline == absl::InfiniteFuture() ? deadline
                                                          : now + (deadline - now) / left;
      peer->in_flight.fetch_add(1);
      absl::StatusOr<T> r = call(&peer->status.address, shards, attempt);
      peer->in_flight.fetch_sub(1);
      const bool retry = !r.ok() && (r.status().code() == absl::StatusCode::kUnavailable ||
                                     (left > 1 && r.status().code() ==
                                                      absl::StatusCode::kDeadlineExceeded));
      if (!retry) return r;
      last = absl::Status(r.status().code(),
                          absl::StrCat(peer->status.address, ": ", r.status().message()));
    }
    return absl::UnavailableError(absl::StrCat("no replica answered (last: ", last.message(), ")"));
  }

  // Serving peers of group g (not this pod), fewest calls in flight first.
  std::vector<std::shared_ptr<Peer>> ReadyPeers(uint32_t g) const {
    std::vector<std::shared_ptr<Peer>> out;
    {
      std::lock_guard l(mu_);
      for (const auto& [address, p] : peers_) {
        const PeerStatus& s = p->status;
        if (s.reachable && s.info.serving && s.info.groups == local_->placement().groups &&
            s.info.group == g && s.info.pod_id != local_->pod_id()) {
          out.push_back(p);
        }
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a->in_flight.load() < b->in_flight.load();
    });
    return out;
  }

  // What the router knows of group g's peers, for the error message.
  std::string Describe(uint32_t g) const {
    std::lock_guard l(mu_);
    std::vector<std::string> parts;
    for (const auto& [address, p] : peers_) {
      const PeerStatus& s = p->status;
      if (!s.reachable) {
        parts.push_back(absl::StrCat(address, " unreachable"));
      } else if (s.info.group == g && s.info.pod_id != local_->pod_id()) {
        parts.push_back(absl::StrCat(address, s.info.serving ? " serving" : " not serving"));
      }
    }
    if (parts.empty()) return "no peers known";
    return absl::StrJoin(parts, ", ");
  }

  std::vector<std::string> Addresses() const {
    std::set<std::string> out;
    for (const std::string& p : options_.peers) {
      if (p.substr(0, 4) != "dns:") {
        out.insert(p);
        continue;
      }
      const std::string rest = p.substr(4);
      const size_t colon = rest.rfind(':');
      for (std::string& a : Resolve(rest.substr(0, colon), rest.substr(colon + 1))) {
        out.insert(std::move(a));
      }
    }
    return {out.begin(), out.end()};
  }

  void ProbeOnce() {
    const std::vector<std::string> addresses = Addresses();
    {
      // Peers gone from DNS are forgotten; calls in flight keep their shared_ptr.
      std::lock_guard l(mu_);
      std::erase_if(peers_, [&](const auto& kv) {
        return !std::binary_search(addresses.begin(), addresses.end(), kv.first);
      });
      for (const std::string& a : addresses) {
        auto& p = peers_[a];
        if (p == nullptr) {
          p = std::make_shared<Peer>();
          p->status.address = a;
        }
      }
    }
    for (const std::string& a : addresses) {
      const absl::Time deadline = absl::Now() + absl::FromChrono(options_.probe_timeout);
      absl::StatusOr<PeerInfo> info = transport_->Probe(a, deadline);
      std::lock_guard l(mu_);
      auto it = peers_.find(a);
      if (it == peers_.end()) continue;
      PeerStatus& s = it->second->status;
      if (info.ok()) {
        if (info->groups != local_->placement().groups &&
            (!s.reachable || s.info.groups != info->groups)) {
          spdlog::warn("cluster: peer {} ({}) has {} shard groups, this pod {}: not routed to", a,
                       info->pod_id, info->groups, local_->placement().groups);
        }
        s.info = *info;
        s.reachable = true;
        s.error.clear();
      } else {
        s.reachable = false;
        s.info.serving = false;
        s.error = std::string(info.status().message());
      }
    }
  }

  void ProbeLoop() {
    std::unique_lock l(stop_mu_);
    while (!stopping_) {
      l.unlock();
      ProbeOnce();
      l.lock();
      stop_cv_.wait_for(l, options_.probe_interval, [this] { return stopping_; });
    }
  }

  const RouterOptions options_;
  ShardTransport* const transport_;
  const LocalShards* const local_;

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for ThreadSanitizer, whose
  // runtime then cannot see absl::Mutex's locking (make test runs this file under TSan through
  // router_unit_test); pthread mutexes it intercepts.
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Peer>> peers_;  // guarded by mu_

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

Router::Router(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Router::~Router() { Stop(); }

absl::StatusOr<std::unique_ptr<Router>> Router::Start(RouterOptions options,
                                                      ShardTransport* transport,
                                                      const LocalShards* local) {
  if (transport == nullptr || local == nullptr) {
    return absl::InvalidArgumentError("Router::Start: transport and local shards are required");
  }
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(local->placement().Validate());
  auto impl = std::make_unique<Impl>(std::move(options), transport, local);
  impl->Start();
  return std::unique_ptr<Router>(new Router(std::move(impl)));
}

void Router::Stop() { impl_->Stop(); }

absl::StatusOr<Routed<index::SearchResult>> Router::Search(const index::SearchRequest& request,
                                                           uint64_t min_applied_sequence,
                                                           bool allow_partial,
                                                           absl::Time deadline) {
  return impl_->Search(request, min_applied_sequence, allow_partial, deadline);
}

absl::StatusOr<Routed<uint64_t>> Router::Count(const std::string& collection,
                                               const std::optional<index::Filter>& filter,
                                               uint64_t min_applied_sequence, bool allow_partial,
                                               absl::Time deadline) {
  return impl_->Count(collection, filter, min_applied_sequence, allow_partial, deadline);
}

absl::StatusOr<Routed<std::vector<index::Point>>> Router::Get(
    const std::string& collection, const std::vector<std::string>& ids, bool with_vectors,
    uint64_t min_applied_sequence, bool allow_partial, absl::Time deadline) {
  return impl_->Get(collection, ids, with_vectors, min_applied_sequence, allow_partial, deadline);
}

std::vector<PeerStatus> Router::peers() const { return impl_->peers(); }

}  // namespace ragd::cluster
