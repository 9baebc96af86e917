#pragma once
// The admin HTTP port (server.admin_listen, default 127.0.0.1:9090), separate from gRPC so
// that scrapers and kubelet probes need neither HTTP/2 nor API keys:
//   GET /metrics  Prometheus text exposition (metrics.h), refreshed at each scrape
//   GET /livez    200 while the process runs
//   GET /readyz   200 when recovered and not draining, 503 otherwise (with the reason)
// Plain HTTP, or HTTPS when given a certificate and key (cpp-httplib's SSLServer, OpenSSL). It
// exposes no data, only counts, and asks for no credentials: bind it to loopback or a
// pod-internal address, never to the internet.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace ragd::services {

class AdminServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;           // the exposition text
    std::function<std::string()> not_ready_reason;  // "" when ready
  };
  // HTTPS: PEM files of the certificate chain and the private key; both empty means plain
  // HTTP.
  struct Tls {
    std::string cert_file;
    std::string key_file;
  };
  // Binds `listen` ("host:port", port 0 picks one) and serves on its own thread. UNAVAILABLE
  // when the address cannot be bound, INVALID_ARGUMENT when it is malformed or when the TLS
  // files cannot be loaded (not PEM, or a key that does not match the certificate).
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& listen,
                                                            Handlers handlers, const Tls& tls = {});
  ~AdminServer();  // stops and joins
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  AdminServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ragd::services
