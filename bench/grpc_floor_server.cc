// ragd_grpc_floor: the floor under ragd's per-Search cost. A gRPC server that answers
// ragd.v1.Points/Search, the same proto ragd serves, with a fixed response of k hits and does
// nothing else: no index, no engine, no interceptors, no other service. ragd_vector_bench
// drives it with the same client loop as ragd (bench/README.md, "The gRPC floor"), so that
// ragd's server CPU per call beyond its index walk can be split, in one run, into what gRPC
// itself costs on this machine and what is ragd's own.
//
// The ways of serving, one per process:
//   --api callback  gRPC's callback API, as ragd serves every method: the handler fills the
//                   response and finishes inline on the thread that read the request.
//   --api async     the completion-queue API with one queue and one thread of our own, the
//                   cheapest unary server gRPC 1.51 offers on loopback (measured in
//                   bench/README.md, "Search on a completion queue"); only possible when no
//                   method of the process uses the callback API. --threads N serves on N
//                   queues with a thread each (gRPC's advice for async servers), so that N
//                   clients' handlers can run at once; one thread serialises them. With
//                   --one-queue the N threads share one queue instead.
//   --api sync      gRPC's synchronous API with its default thread pool (threads that poll
//                   and run the handler where they read the request; gRPC grows the pool as
//                   calls wait): the third way gRPC 1.51 serves a unary method.
//   --api socket    no gRPC at all: plain TCP, a thread per connection, each request a 4-byte
//                   little-endian length and a serialized SearchRequest, each answer the same
//                   framing around a SearchResponse. The cheapest request/response server this
//                   kernel and VM allow (one blocking recv and one send a call, no HTTP/2, no
//                   polling threads), so its cost under a walk-long handler is what *any*
//                   transport pays here, and what gRPC adds is the rest (bench/README.md,
//                   "Session 15: the socket floor").
// The listening port goes to --port-file once the server has started (written to a temporary
// name and renamed, so a reader never sees half of it). SIGTERM or SIGINT stops it.

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/socket_frames.h"
#include "ragd/v1/points.grpc.pb.h"

namespace {

// --work-us: the handler's stand-in for an index walk. It reads pseudo-random 6 KiB rows (a
// 1536-d float32 vector each) of a buffer far larger than the caches, as an HNSW walk reads
// vectors, until `us` microseconds have passed. So the floor can be measured for a handler as
// long as ragd's walk that leaves gRPC's and the kernel's data as cold as the walk does: the
// part of ragd's cost beyond its walk that any gRPC server with such a handler pays here.
class Work {
 public:
  static constexpr size_t kRowFloats = 1536;

  Work(int64_t us, size_t megabytes)
      : us_(us), rows_(us > 0 ? megabytes * (1 << 20) / (kRowFloats * sizeof(float)) : 0) {
    // Every page written once, so the work measures reads, not page faults.
    buffer_.assign(rows_ * kRowFloats, 1.0f);
  }

  void Run() const {
    if (us_ <= 0 || rows_ == 0) return;
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us_);
    // A new stream of rows each call: repeating one would leave them in the cache.
    uint64_t state = calls_.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ull + 1;
    float sum[8] = {};
    // The clock is read after every row (a 6 KiB row from DRAM takes under a microsecond, the
    // clock tens of nanoseconds), so the work overshoots `us` by one row at most: the CPU
    // "beyond the work" is then the server's, not the loop's. (Until session 15 it was read
    // every 16 rows: 806.5 us of work for 800 asked, against 800.4 now, measured standalone.)
    do {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const float* row = buffer_.data() + ((state >> 33) % rows_) * kRowFloats;
      for (size_t j = 0; j < kRowFloats; j += 8) {
        for (size_t l = 0; l < 8; ++l) sum[l] += row[j + l];  // eight chains: vectorisable
      }
    } while (std::chrono::steady_clock::now() < until);
    sink_ = sum[0] + sum[1] + sum[2] + sum[3] + sum[4] + sum[5] + sum[6] + sum[7];
  }

 private:
  int64_t us_;
  size_t rows_;
  std::vector<float> buffer_;
  mutable std::atomic<uint64_t> calls_{0};
  mutable volatile float sink_ = 0;
};

const Work* g_work = nullptr;

// k hits shaped like a vector search's (id, score, the vector leg's rank and score), so that the
// response costs what ragd's costs to encode and send.
void FillHits(uint32_t k, ragd::v1::SearchResponse* response) {
  response->Clear();
  for (uint32_t i = 0; i < k; ++i) {
    ragd::v1::ScoredPoint* hit = response->add_hits();
    hit->mutable_point()->set_id(std::to_string(i));
    const float score = 0.9f - 0.01f * static_cast<float>(i);
    hit->set_score(score);
    hit->mutable_vector_leg()->set_rank(i + 1);
    hit->mutable_vector_leg()->set_score(score);
  }
  response->set_applied_sequence(1);
}

uint32_t HitsFor(const ragd::v1::SearchRequest& request) {
  constexpr uint32_t kDefaultK = 10;
  constexpr uint32_t kMaxK = 1000;
  const uint32_t k = request.k() == 0 ? kDefaultK : request.k();
  return k > kMaxK ? kMaxK : k;
}

class CallbackPoints final : public ragd::v1::Points::CallbackService {
 public:
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const ragd::v1::SearchRequest* request,
                                   ragd::v1::SearchResponse* response) override {
    g_work->Run();
    FillHits(HitsFor(*request), response);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// --api sync: gRPC's synchronous API, whose own pool of threads polls and runs the handler.
class SyncPoints final : public ragd::v1::Points::Service {
 public:
  grpc::Status Search(grpc::ServerContext*, const ragd::v1::SearchRequest* request,
                      ragd::v1::SearchResponse* response) override {
    g_work->Run();
    FillHits(HitsFor(*request), response);
    return grpc::Status::OK;
  }
};

// One Search call on the completion queue: requested, answered, then freed. The classic
// state machine of gRPC's async examples.
class AsyncCall {
 public:
  AsyncCall(ragd::v1::Points::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&context_) {
    service_->RequestSearch(&context_, &request_, &responder_, cq_, cq_, this);
  }

  // Called with the tag's event; `ok` false means the queue is shutting down.
  void Proceed(bool ok) {
    if (!ok || answered_) {
      delete this;
      return;
    }
    new AsyncCall(service_, cq_);  // the next call, before this one is answered
    g_work->Run();
    FillHits(HitsFor(request_), &response_);
    answered_ = true;
    responder_.Finish(response_, grpc::Status::OK, this);
  }

 private:
  ragd::v1::Points::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext context_;
  ragd::v1::SearchRequest request_;
  ragd::v1::SearchResponse response_;
  grpc::ServerAsyncResponseWriter<ragd::v1::SearchResponse> responder_;
  bool answered_ = false;
};

// --api socket: one connection's loop (bench/socket_frames.h), until the peer closes or sends
// something unparseable.
void ServeConnection(int fd) {
  constexpr uint32_t kMaxFrameBytes = 64 << 20;
  ragd::bench::FrameReader reader;
  std::string out;
  ragd::v1::SearchRequest request;
  ragd::v1::SearchResponse response;
  while (ragd::bench::RecvFrame(fd, kMaxFrameBytes, &reader, &request)) {
    g_work->Run();
    FillHits(HitsFor(request), &response);
    if (!ragd::bench::SendFrame(fd, response, &out)) break;
  }
  close(fd);
}

// Listens on 127.0.0.1:`port` (0: any free one); returns the socket, or -1, and the port bound.
int ListenTcp(int port, int* bound) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *bound = ntohs(addr.sin_port);
  return fd;
}

// Accepts until the listening socket is shut down; a detached thread per connection (the
// process ends with _exit once stopped, so none of them outlives what it uses).
void AcceptLoop(int listen_fd) {
  for (;;) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread(ServeConnection, fd).detach();
  }
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Writes the port file, then waits for SIGTERM or SIGINT (blocked in every thread); the exit
// code: 0, or 1 when the port file cannot be written.
int AnnounceAndWait(const std::string& port_file, int port, const sigset_t& stop_signals) {
  if (!WritePortFile(port_file, port)) {
    std::cerr << "ragd_grpc_floor: cannot write " << port_file << "\n";
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  return 0;
}

int Usage(const char* why) {
  std::cerr << "ragd_grpc_floor: " << why << "\n"
            << "Usage: ragd_grpc_floor --api callback|async|sync --port-file FILE [--listen ADDR]\n"
               "                       [--threads N [--one-queue]] [--work-us US [--work-mb MB]]\n"
               "Answers ragd.v1.Points/Search with k fixed hits and nothing else (the gRPC\n"
               "floor under ragd's per-Search cost; bench/README.md). ADDR defaults to\n"
               "127.0.0.1:0 (any free port); the port is written to FILE once serving.\n"
               "--work-us: before answering, read random 6 KiB rows of an MB-megabyte buffer\n"
               "(default 512) for US microseconds, as an index walk of that length would.\n"
               "--threads (async only): N completion queues with a thread each (default 1);\n"
               "with --one-queue, one completion queue that N threads take calls from.\n"
               "--api sync: gRPC's synchronous API and its default thread pool.\n"
               "--api socket: no gRPC; 4-byte length + protobuf frames over plain TCP on\n"
               "127.0.0.1 (ADDR must be 127.0.0.1:PORT), a thread per connection.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string api;
  std::string port_file;
  std::string listen = "127.0.0.1:0";
  int64_t work_us = 0;
  int64_t work_mb = 512;
  int64_t threads = 1;
  bool one_queue = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      Usage("help");
      return 0;
    }
    if (arg == "--one-queue") {
      one_queue = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(("missing value for " + arg).c_str());
    if (arg == "--api") {
      api = argv[++i];
    } else if (arg == "--port-file") {
      port_file = argv[++i];
    } else if (arg == "--listen") {
      listen = argv[++i];
    } else if (arg == "--threads") {
      char* end = nullptr;
      threads = std::strtoll(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || threads < 1 || threads > 64) {
        return Usage("--threads must be an integer in 1..64");
      }
    } else if (arg == "--work-us" || arg == "--work-mb") {
      char* end = nullptr;
      const long long value = std::strtoll(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || value < 0 ||
          value > (arg == "--work-us" ? 10'000'000 : 65'536)) {
        return Usage((arg + " must be an integer in range").c_str());
      }
      (arg == "--work-us" ? work_us : work_mb) = value;
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  if (api != "callback" && api != "async" && api != "sync" && api != "socket") {
    return Usage("--api must be callback, async, sync or socket");
  }
  if (port_file.empty()) return Usage("--port-file is required");
  const Work work(work_us, static_cast<size_t>(work_mb));
  g_work = &work;

  // SIGTERM and SIGINT are blocked before gRPC starts its threads (which inherit the mask) and
  // taken by sigwait below: no handler, and no polling loop whose wake-ups would count in the
  // CPU this process is measured by.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (api == "socket") {
    constexpr char kLoopback[] = "127.0.0.1:";
    if (threads != 1 || one_queue) return Usage("--threads and --one-queue are for --api async");
    if (listen.rfind(kLoopback, 0) != 0) return Usage("--api socket listens on 127.0.0.1:PORT");
    char* end = nullptr;
    const long requested = std::strtol(listen.c_str() + sizeof(kLoopback) - 1, &end, 10);
    if (*end != '\0' || requested < 0 || requested > 65535) return Usage("bad port in --listen");
    int port = 0;
    const int listen_fd = ListenTcp(static_cast<int>(requested), &port);
    if (listen_fd < 0) {
      std::cerr << "ragd_grpc_floor: cannot listen on " << listen << "\n";
      return 1;
    }
    std::thread acceptor(AcceptLoop, listen_fd);
    const int exit_code = AnnounceAndWait(port_file, port, stop_signals);
    shutdown(listen_fd, SHUT_RDWR);
    acceptor.join();
    _exit(exit_code);  // connection threads may still be blocked in recv
  }

  // The same message limits ragd sets (server.max_message_bytes' default), nothing else.
  constexpr int kMaxMessageBytes = 64 << 20;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  CallbackPoints callback_service;
  SyncPoints sync_service;
  ragd::v1::Points::AsyncService async_service;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  if (api == "callback") {
    if (threads != 1 || one_queue) return Usage("--threads and --one-queue are for --api async");
    builder.RegisterService(&callback_service);
  } else if (api == "sync") {
    if (threads != 1 || one_queue) return Usage("--threads and --one-queue are for --api async");
    builder.RegisterService(&sync_service);
  } else {
    builder.RegisterService(&async_service);
    const int64_t count = one_queue ? 1 : threads;
    for (int64_t q = 0; q < count; ++q) queues.push_back(builder.AddCompletionQueue());
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  // A Unix socket has no port: gRPC reports 1 for it (0 only on failure); the port file then
  // just says the server is up.
  if (server == nullptr || port == 0) {
    std::cerr << "ragd_grpc_floor: cannot listen on " << listen << "\n";
    return 1;
  }

  // A call requested per thread of a queue, so that each of its threads can hold one.
  const int64_t threads_per_queue = one_queue ? threads : 1;
  std::vector<std::thread> workers;
  for (auto& queue : queues) {
    grpc::ServerCompletionQueue* cq = queue.get();
    for (int64_t t = 0; t < threads_per_queue; ++t) new AsyncCall(&async_service, cq);
    for (int64_t t = 0; t < threads_per_queue; ++t) {
      workers.emplace_back([cq] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) static_cast<AsyncCall*>(tag)->Proceed(ok);
      });
    }
  }
  const int exit_code = AnnounceAndWait(port_file, port, stop_signals);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto& queue : queues) queue->Shutdown();
  for (std::thread& worker : workers) worker.join();
  return exit_code;
}
