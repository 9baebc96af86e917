#pragma once
// Private to services/http: notices that the client of a request closed its connection while a
// handler still works on the answer, so that the upstream model call can be cancelled.
//
// cpp-httplib 0.11 hands a handler neither its socket nor a liveness check (only a streaming
// content provider gets DataSink::is_writable). The connection's socket is open for as long as
// the handler runs, so it is found once by its two endpoints (the request's local and remote
// address and port) among this process's sockets, then polled for POLLRDHUP.

#include <string>

namespace ragd::services::http_internal {

class PeerWatch {
 public:
  // Finds the socket connected from remote_addr:remote_port to local_port (IPv4 or IPv6). When
  // none is found, closed() always says false.
  PeerWatch(const std::string& remote_addr, int remote_port, int local_port);
  // True once the peer has closed or reset the connection. Never blocks.
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace ragd::services::http_internal
