#include "services/server/admin_server.h"

#include <chrono>
#include <thread>
#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ragd::services {

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen,
                                                                Handlers handlers, const Tls& tls) {
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.admin_listen: expected host:port, got \"", listen, "\""));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<AdminServer> self(new AdminServer());
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    self->server_ = std::make_unique<httplib::Server>();
  } else {
    auto https = std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(), tls.key_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server.admin_tls: cannot use cert_file \"", tls.cert_file, "\" and key_file \"",
          tls.key_file,
          "\": both must be readable PEM files and the key must match the certificate"));
    }
    self->server_ = std::move(https);
  }
  httplib::Server& s = *self->server_;
  // Scrapes and probes are tiny; a few threads keep a slow scraper from blocking probes.
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.Get("/metrics", [h = handlers](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/livez", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/readyz", [h = handlers](const httplib::Request&, httplib::Response& res) {
    std::string reason = h.not_ready_reason();
    if (reason.empty()) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content(reason + "\n", "text/plain");
    }
  });
  if (port == 0) {
    self->port_ = s.bind_to_any_port(host);
  } else if (s.bind_to_port(host, port)) {
    self->port_ = port;
  }
  if (self->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, " (admin port)"));
  }
  AdminServer* raw = self.get();
  self->thread_ = std::thread([raw] { raw->server_->listen_after_bind(); });
  // cpp-httplib's stop() does nothing until the listening thread has marked the server running,
  // so a Stop() right after Start() (a recovery that fails at once) would leave that thread
  // listening for ever and Stop()'s join hanging: wait for it (bounded; a listener that fails
  // to start ends its thread, which the join then collects).
  for (int i = 0; i < 5000 && !raw->server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return self;
}

void AdminServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

AdminServer::~AdminServer() { Stop(); }

}  // namespace ragd::services
