// cluster_replica DATA_DIR NATS_URL COLLECTION: an Engine replica fed by the Applier in its own
// process, for tests that SIGKILL it. Prints "position N" for COLLECTION whenever it moves
// (each N is durable in the engine when printed) and runs until killed.

#include <cstdio>
#include <memory>
#include <thread>

#include "cluster/applier.h"
#include "cluster/jetstream_log.h"
#include "index/engine/engine.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cluster_replica DATA_DIR NATS_URL COLLECTION\n");
    return 2;
  }
  ragd::index::Engine::Options eo;
  eo.data_dir = argv[1];
  eo.snapshot_interval_seconds = 0;
  eo.idle_flush_seconds = 0;
  eo.block_cache_bytes = 8u << 20;
  auto engine = ragd::index::Engine::Open(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  ragd::cluster::JetStreamLogOptions lo;
  lo.urls = {argv[2]};
  auto log = ragd::cluster::JetStreamLog::Connect(lo);
  if (!log.ok()) {
    std::fprintf(stderr, "log: %s\n", log.status().ToString().c_str());
    return 1;
  }
  auto applier = ragd::cluster::Applier::Start(log->get(), engine->get());
  if (!applier.ok()) {
    std::fprintf(stderr, "applier: %s\n", applier.status().ToString().c_str());
    return 1;
  }
  uint64_t printed = 0;
  for (;;) {
    auto pos = (*applier)->Position(argv[3]);
    if (pos.ok() && *pos > printed) {
      printed = *pos;
      std::printf("position %llu\n", static_cast<unsigned long long>(printed));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
