#include "bench/server_harness.h"

#include <algorithm>
#include <charconv>
#include <fstream>

namespace ragd::bench {
std::string TargetOf(int port, const std::string& unix_socket) {
  return unix_socket.empty() ? "127.0.0.1:" + std::to_string(port) : "unix:" + unix_socket;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int channel_id) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A private subchannel (TCP connection) per client thread: without this, channels with equal
  // arguments share one connection and "N clients" would be N streams on one socket.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("ragd.bench.channel_id", channel_id);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

void SetDeadline(grpc::ClientContext* ctx, double seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
}

std::string RagdLogTail(const std::string& log_path) {
  std::ifstream in(log_path);
  std::vector<std::string> lines;
  std::string line;
  for (int guard = 0; guard < 1000000 && std::getline(in, line); ++guard) {
    lines.push_back(line);
    if (lines.size() > 5) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

bool ParseHits(const ragd::v1::SearchResponse& response, int64_t* ids) {
  for (size_t i = 0; i < kTopK; ++i) ids[i] = -1;
  const int hits = std::min<int>(response.hits_size(), static_cast<int>(kTopK));
  for (int i = 0; i < hits; ++i) {
    const std::string& id = response.hits(i).point().id();
    int64_t value = -1;
    auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
    if (ec != std::errc() || ptr != id.data() + id.size()) return false;
    ids[i] = value;
  }
  return true;
}

void SearchClient::Connect(const std::string& target, int channel_id, size_t ef) {
  stub = ragd::v1::Points::NewStub(MakeChannel(target, channel_id));
  request.set_collection(kCollection);
  request.set_k(kTopK);
  request.set_with_payload(false);
  if (ef > 0) request.set_ef(static_cast<uint32_t>(ef));
}

bool SearchClient::Search(const float* query, size_t dim, int64_t* ids) {
  request.mutable_vector()->Clear();
  request.mutable_vector()->Add(query, query + dim);
  grpc::ClientContext call;
  SetDeadline(&call, 30);
  if (!stub->Search(&call, request, &response).ok()) return false;
  return ParseHits(response, ids);
}

LoadResult RunSearchLoad(const SuiteContext& ctx, const std::string& target, int clients,
                         LoadOptions load, size_t ef) {
  const Dataset& data = *ctx.data;
  load.threads = clients;
  std::vector<SearchClient> state(static_cast<size_t>(clients));
  auto search = [&](int t, size_t q, int64_t* ids) {
    return state[static_cast<size_t>(t)].Search(data.query_row(q), data.dim, ids);
  };
  return RunQueryLoad(
      data.num_queries, kTopK, load,
      [&](int t) {
        state[static_cast<size_t>(t)].Connect(target, 1000 + t, ef);
        // Warms the connection and the server's per-thread state outside the timed window.
        int64_t ids[kTopK];
        for (size_t i = 0; i < 5; ++i) search(t, i % data.num_queries, ids);
      },
      search);
}

// server_cpu_ms_per_call and the switches per call: the thread hand-offs behind the CPU figure,
// which load hardly changes (bench/README.md, "Search on a completion queue").
void AddServerCost(const ServerCost& cost, double calls, nlohmann::json* record) {
  (*record)["server_cpu_ms_per_call"] = cost.cpu_seconds * 1000 / calls;
  (*record)["server_voluntary_switches_per_call"] =
      static_cast<double>(cost.switches.voluntary) / calls;
  (*record)["server_involuntary_switches_per_call"] =
      static_cast<double>(cost.switches.involuntary) / calls;
  (*record)["server_minor_faults_per_call"] = static_cast<double>(cost.minor_faults) / calls;
}

}  // namespace ragd::bench
