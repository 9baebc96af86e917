// The floors under ragd's per-Search cost (bench/README.md, "The gRPC floor" and "Session 15:
// the socket floor"): ragd_grpc_floor on gRPC's callback, async and sync APIs, and with no
// gRPC at all over plain TCP, driven by the same client loop and client counts as ragd.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/server_harness.h"
#include "bench/socket_frames.h"
#include "bench/suites.h"

namespace ragd::bench {
namespace {

// The same client loop against `ragd_grpc_floor --api socket` (no gRPC): per client thread one
// TCP connection to 127.0.0.1:port, each call one frame out and one back (bench/socket_frames.h),
// one blocking send and recv.
struct SocketClient {
  int fd = -1;
  ragd::v1::SearchRequest request;
  ragd::v1::SearchResponse response;
  std::string out;
  FrameReader in;
  SocketClient() = default;
  SocketClient(const SocketClient&) = delete;
  SocketClient& operator=(const SocketClient&) = delete;
  ~SocketClient() {
    if (fd >= 0) close(fd);
  }
};

bool SocketConnect(int port, SocketClient* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return false;
  const int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

bool SocketCall(SocketClient* c) {
  return SendFrame(c->fd, c->request, &c->out) &&
         RecvFrame(c->fd, static_cast<uint32_t>(kMaxMessageBytes), &c->in, &c->response);
}

// `connections` receives the connections (one per client thread, made here), left open so that
// the caller reads the server's figures before its threads see the clients leave.
LoadResult RunSocketSearchLoad(const SuiteContext& ctx, int port, int clients,
                               const LoadOptions& options, std::vector<SocketClient>* connections) {
  const Dataset& data = *ctx.data;
  LoadOptions load = options;
  load.threads = clients;
  *connections = std::vector<SocketClient>(static_cast<size_t>(clients));
  std::vector<SocketClient>& state = *connections;
  auto search = [&](int t, size_t q, int64_t* ids) {
    SocketClient& c = state[static_cast<size_t>(t)];
    c.request.mutable_vector()->Clear();
    c.request.mutable_vector()->Add(data.query_row(q), data.query_row(q) + data.dim);
    return SocketCall(&c) && ParseHits(c.response, ids);
  };
  return RunQueryLoad(
      data.num_queries, kTopK, load,
      [&](int t) {
        SocketClient& c = state[static_cast<size_t>(t)];
        c.request.set_collection(kCollection);
        c.request.set_k(kTopK);
        c.request.set_with_payload(false);
        if (!SocketConnect(port, &c)) return;  // every call then fails and counts as an error
        int64_t ids[kTopK];
        for (size_t i = 0; i < 5; ++i) search(t, i % data.num_queries, ids);
      },
      search);
}

}  // namespace

GrpcFloorFigures RunGrpcFloorSuite(const SuiteContext& ctx, const GrpcFloorOptions& options) {
  GrpcFloorFigures figures;
  auto fail = [&](const std::string& system, const std::string& why) {
    figures.error = why;
    ctx.report->Write({{"bench", "error"}, {"system", system}, {"threads", 0}, {"error", why}});
    return figures;
  };
  if (options.binary.empty() || !std::filesystem::exists(options.binary)) {
    return fail("grpc-floor",
                "ragd_grpc_floor not found (build target ragd_grpc_floor): " + options.binary);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ragd-grpc-floor-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return fail("grpc-floor", "cannot create a temp dir");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{pattern};
  std::vector<int64_t> works = {0};
  if (options.work_us > 0) works.push_back(options.work_us);
  // The callback and sync APIs serve any number of clients from gRPC's own threads: one
  // process for every client count. The async one is given as many queues and threads as
  // clients, one process per count, so that N clients' handlers run at once there too.
  struct Server {
    std::string api;
    int threads;
    std::vector<int> clients;
    bool one_queue = false;  // async: the threads share one queue (else a queue each)
  };
  std::vector<Server> servers = {{"callback", 1, options.clients}, {"sync", 1, options.clients}};
  // The server a deployment must run cannot know how many clients will come (bench/README.md,
  // "Session 18: every gRPC server shape under a walk"). So, when one client and more are measured,
  // the one-thread async server also serves the most clients (it runs their handlers one at a
  // time), and async servers with as many threads as the most clients, on a queue each or on
  // one queue, also serve one client.
  const int widest = options.clients.empty()
                         ? 1
                         : *std::max_element(options.clients.begin(), options.clients.end());
  const bool wide = widest > 1 && std::find(options.clients.begin(), options.clients.end(), 1) !=
                                      options.clients.end();
  for (int clients : options.clients) {
    std::vector<int> served = {clients};
    if (clients == 1 && wide) served.push_back(widest);
    servers.push_back({"async", std::max(1, clients), served});
  }
  if (wide) {
    servers.push_back({"async", widest, {1}});
    servers.push_back({"async", widest, {1}, true});
  }
  // No gRPC: the transport floor any server pays here (plain TCP only, so not with --transport
  // unix).
  if (!options.unix_socket) servers.push_back({"socket", 1, options.clients});
  for (const int64_t work_us : works) {
    for (const Server& server : servers) {
      const std::string& api = server.api;
      const bool socket = api == "socket";
      const std::string system = (socket ? std::string("socket-floor") : "grpc-floor-" + api) +
                                 (work_us > 0 ? "-walk" : "");
      // This server's files: PREFIX.port, PREFIX.sock, PREFIX.log (two async servers may have
      // the same thread count: the wide one and the one for that many clients).
      const std::string prefix = pattern + "/" + system + "-" + std::to_string(server.threads) +
                                 "-" + std::to_string(server.clients.front()) +
                                 (server.one_queue ? "-q1" : "");
      const std::string port_file = prefix + ".port", log = prefix + ".log";
      const std::string unix_socket = options.unix_socket ? prefix + ".sock" : "";
      std::vector<std::string> args = {"--api", api, "--port-file", port_file};
      if (api == "async") args.insert(args.end(), {"--threads", std::to_string(server.threads)});
      if (server.one_queue) args.push_back("--one-queue");
      if (!unix_socket.empty()) args.insert(args.end(), {"--listen", "unix:" + unix_socket});
      if (work_us > 0) args.insert(args.end(), {"--work-us", std::to_string(work_us)});
      RagdProcess proc;
      std::string error;
      if (!proc.Start(options.binary, args, log, &error)) return fail(system, error);
      // The port file appears (renamed into place) once the server has started.
      int port = 0;
      const Clock::time_point start = Clock::now();
      while (port == 0 && proc.Alive() && SecondsSince(start) < options.startup_timeout_seconds) {
        std::ifstream in(port_file);
        if (!(in >> port)) port = 0;
        if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (port == 0) return fail(system, "did not start; log: " + RagdLogTail(log));
      for (int clients : server.clients) {
        ServerCost cost;
        std::vector<SocketClient> connections;  // closed after the server's figures are read
        // The client's CPU too: on two cores the clients' own work competes with the server,
        // and a gRPC client costs more than a socket one.
        const double client_cpu_start = ProcessCpuSeconds(static_cast<int>(getpid()));
        LoadResult r = MeasureServer(proc.pid(), &cost, [&] {
          return socket ? RunSocketSearchLoad(ctx, port, clients, ctx.load, &connections)
                        : RunSearchLoad(ctx, TargetOf(port, unix_socket), clients, ctx.load);
        });
        const double client_cpu = ProcessCpuSeconds(static_cast<int>(getpid())) - client_cpu_start;
        const double calls = static_cast<double>(std::max<size_t>(1, r.ops));
        // No recall, ef or n: the hits are fixed, whatever the query.
        nlohmann::json record = SearchRecord(system, clients, 0, 0, 0, r);
        record.erase("recall_at_10");
        record.erase("ef");
        record.erase("n");
        const std::string transport =
            socket ? "no gRPC: length-prefixed protobuf over TCP on 127.0.0.1, a server thread per "
                     "connection"
                   : (unix_socket.empty() ? "gRPC over 127.0.0.1" : "gRPC over a Unix socket");
        record["transport"] = transport + ", one connection per client thread";
        // What the floor answers, and whose cost it is.
        const std::string answered =
            socket ? "A SearchRequest frame answered with k fixed hits"
                   : "Points.Search answered with k fixed hits";
        const std::string whose = socket ? "the transport's own cost, no gRPC" : "gRPC's own cost";
        if (work_us > 0) {
          record["what"] = answered +
                           " after work_us of random 6 KiB reads of a 512 MiB buffer (" + whose +
                           " under a handler as long as ragd's walk)";
          record["work_us"] = work_us;
        } else {
          record["what"] = answered + ", no index (" + whose + ")";
        }
        if (api == "async") {
          record["server_threads"] = server.threads;
          record["server_queues"] = server.one_queue ? 1 : server.threads;
        }
        AddServerCost(cost, calls, &record);
        record["client_cpu_ms_per_call"] = client_cpu * 1000 / calls;
        ctx.report->Write(record);
        if (socket) {
          (work_us == 0 ? figures.socket_cpu_ms_per_call_by_clients
                        : figures.socket_walk_cpu_ms_per_call_by_clients)
              .push_back(cost.cpu_seconds * 1000 / calls);
          if (work_us > 0) figures.socket_walk_qps_by_clients.push_back(r.qps);
        } else if (api == "async" && clients > 1 && server.threads == 1) {
          if (work_us > 0) {
            figures.async_one_thread_widest_clients = clients;
            figures.async_one_thread_widest_walk_qps = r.qps;
          }
        } else if (api == "async" && clients == 1 && server.threads > 1) {
          if (work_us > 0) {
            figures.async_wide_threads = server.threads;
            GrpcFloorFigures::Api& of =
                server.one_queue ? figures.async_wide_one_queue : figures.async_wide;
            of.walk_cpu_ms_per_call = cost.cpu_seconds * 1000 / calls;
            of.walk_qps = r.qps;
          }
        } else if (clients == 1) {
          GrpcFloorFigures::Api& of = api == "callback" ? figures.callback
                                      : api == "sync"   ? figures.sync
                                                        : figures.async;
          const double cpu_ms = cost.cpu_seconds * 1000 / calls;
          if (work_us == 0) {
            of.cpu_ms_per_call = cpu_ms;
          } else {
            of.walk_cpu_ms_per_call = cpu_ms;
            of.walk_qps = r.qps;
          }
        }
      }
      double seconds = 0;
      proc.Terminate(10, &seconds);
    }
  }
  figures.ran = true;
  return figures;
}

void AddGrpcFloorTargets(const GrpcFloorFigures& floor, const GrpcFloorOptions& options,
                         nlohmann::json* targets) {
  nlohmann::json& t = *targets;
  // Server CPU per call of the empty servers, one client (bench/README.md, "The gRPC floor").
  // The callback one is the floor under ragd's figure; the async one is gRPC's cheapest unary
  // path, out of reach while any method uses the callback API; the sync one, the third API.
  t["grpc_floor_callback_cpu_us_per_call"] = floor.callback.cpu_ms_per_call * 1000;
  t["grpc_floor_async_cpu_us_per_call"] = floor.async.cpu_ms_per_call * 1000;
  t["grpc_floor_sync_cpu_us_per_call"] = floor.sync.cpu_ms_per_call * 1000;
  // With work_us of work per call: CPU beyond the work, and calls/s of one client against the
  // rate of the work alone (1 s / work_us): how much of a walk's rate gRPC leaves here.
  if (options.work_us > 0) {
    const double work_us = static_cast<double>(options.work_us);
    t["grpc_floor_work_us"] = work_us;
    using Api = GrpcFloorFigures::Api;
    for (const auto& [api, of] : {std::pair<const char*, const Api*>{"callback", &floor.callback},
                                  {"async", &floor.async},
                                  {"sync", &floor.sync},
                                  {"async_wide", &floor.async_wide},
                                  {"async_wide_one_queue", &floor.async_wide_one_queue}}) {
      if (of->walk_qps <= 0) continue;  // not measured
      t[std::string("grpc_floor_walk_") + api + "_cpu_us_per_call_beyond_work"] =
          of->walk_cpu_ms_per_call * 1000 - work_us;
      t[std::string("grpc_floor_walk_") + api + "_qps_ratio_vs_work_alone"] =
          of->walk_qps * work_us / 1e6;
    }
    if (floor.async_wide_threads > 0) {
      t["grpc_floor_walk_async_wide_server_threads"] = floor.async_wide_threads;
    }
    // The one-thread async server under the most clients, against that many walks' own rate.
    if (floor.async_one_thread_widest_walk_qps > 0) {
      const int n = floor.async_one_thread_widest_clients;
      t["grpc_floor_walk_async_qps_ratio_vs_work_alone_" + std::to_string(n)] =
          floor.async_one_thread_widest_walk_qps * work_us / 1e6 / n;
    }
  }
  // The socket floor (no gRPC), by client count: what any transport costs here, so that the
  // gRPC floor's figures above split into the kernel's and VM's share and gRPC's own.
  for (size_t j = 0; j < options.clients.size(); ++j) {
    const std::string n = "_" + std::to_string(options.clients[j]);
    if (j < floor.socket_cpu_ms_per_call_by_clients.size()) {
      t["socket_floor_cpu_us_per_call" + n] = floor.socket_cpu_ms_per_call_by_clients[j] * 1000;
    }
    if (options.work_us <= 0 || j >= floor.socket_walk_qps_by_clients.size()) continue;
    const double work_us = static_cast<double>(options.work_us);
    t["socket_floor_walk_cpu_us_per_call_beyond_work" + n] =
        floor.socket_walk_cpu_ms_per_call_by_clients[j] * 1000 - work_us;
    // Against N walks' own rate (N / work_us): how much of it a server with no gRPC keeps.
    t["socket_floor_walk_qps_ratio_vs_work_alone" + n] =
        floor.socket_walk_qps_by_clients[j] * work_us / 1e6 / options.clients[j];
  }
}

}  // namespace ragd::bench
