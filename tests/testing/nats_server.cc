#include "tests/testing/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace ragd::testing {

const char* NatsServer::Binary() { return RAGD_NATS_SERVER_BINARY; }

// The socket that found a port stays bound to it for the rest of the test process (never
// listening), so that the port stays reserved until the server that is handed it binds it.
// Closing it at once, as this did, left a window (until the server started, and again between
// a Kill() and a Restart()) in which any other process on the machine could take the port:
// with ctest -j2, a ragd of another test binding port 0, or, more likely, an outgoing
// connection (a NATS route retrying towards a node not up yet, a gRPC channel probing a peer)
// auto-binding it as its local port, after which the server's bind fails with "address
// already in use". A bound socket is skipped by both the kernel's port-0 choice and its
// choice of local ports for connect(). The server can still bind the port: the reserving
// socket sets SO_REUSEADDR and SO_REUSEPORT and does not listen, and Linux lets a socket with
// SO_REUSEADDR (nats-server, Go's listeners) or SO_REUSEPORT (ragd, gRPC's listeners) bind a
// port held that way. Connecting to a reserved port nobody listens on is still refused.
// A few descriptors per test process (each test runs in its own); they close with it.
int NatsServer::FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    close(fd);
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  if (port == 0) close(fd);  // otherwise deliberately left open: the reservation
  return port;
}

absl::StatusOr<std::unique_ptr<NatsServer>> NatsServer::Start(Options options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("NatsServer: dir is required");
  if (options.port == 0 && options.cluster_port == 0) {
    // A port picked free may be taken by a test running alongside before the server binds
    // it: then pick another.
    absl::StatusOr<std::unique_ptr<NatsServer>> s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      Options o = options;
      o.port = FreePort();
      s = StartOnce(std::move(o));
      if (s.ok() || s.status().message().find("address already in use") == std::string::npos) {
        return s;
      }
    }
    return s;
  }
  return StartOnce(std::move(options));
}

absl::StatusOr<std::unique_ptr<NatsServer>> NatsServer::StartOnce(Options options) {
  if (options.port == 0) options.port = FreePort();
  if (options.port == 0) return absl::InternalError("NatsServer: no free port");
  std::unique_ptr<NatsServer> s(new NatsServer(std::move(options)));
  std::filesystem::create_directories(s->options_.dir);
  s->log_file_ = s->options_.dir + "/nats.log";
  s->config_file_ = s->options_.dir + "/nats.conf";
  std::ostringstream conf;
  conf << "server_name: " << s->options_.name << "\n"
       << "listen: " << s->options_.host << ":" << s->options_.port << "\n"
       << "jetstream {\n  store_dir: \"" << s->options_.dir << "/js\"\n}\n";
  if (s->options_.cluster_port != 0) {
    conf << "cluster {\n  name: ragd-test\n  listen: " << s->options_.host << ":"
         << s->options_.cluster_port << "\n  routes: [\n";
    for (int p : s->options_.route_ports) {
      conf << "    nats-route://" << s->options_.host << ":" << p << "\n";
    }
    conf << "  ]\n}\n";
  }
  {
    std::ofstream f(s->config_file_, std::ios::trunc);
    f << conf.str();
    if (!f) return absl::InternalError("NatsServer: cannot write " + s->config_file_);
  }
  if (absl::Status st = s->Launch(); !st.ok()) return st;
  return s;
}

absl::StatusOr<std::vector<std::unique_ptr<NatsServer>>> NatsServer::StartCluster(
    int n, const std::string& base_dir, const std::string& host) {
  std::vector<int> ports, route_ports;
  for (int i = 0; i < n; ++i) {
    ports.push_back(FreePort());
    route_ports.push_back(FreePort());
  }
  std::vector<std::unique_ptr<NatsServer>> nodes;
  for (int i = 0; i < n; ++i) {
    Options o;
    o.name = "n" + std::to_string(i + 1);
    o.dir = base_dir + "/" + o.name;
    o.host = host;
    o.port = ports[i];
    o.cluster_port = route_ports[i];
    for (int j = 0; j < n; ++j) {
      if (j != i) o.route_ports.push_back(route_ports[j]);
    }
    auto node = Start(std::move(o));
    if (!node.ok()) return node.status();
    nodes.push_back(*std::move(node));
  }
  return nodes;
}

absl::Status NatsServer::Launch() {
  // argv built before fork(): the child of a threaded process may only make
  // async-signal-safe calls before exec.
  std::vector<std::string> args = {Binary(), "-c", config_file_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return absl::InternalError(absl::StrCat("NatsServer: open: ", std::strerror(errno)));
  }
  const auto log_start = std::filesystem::file_size(log_file_);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  close(log_fd);
  close(null_fd);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  pid_ = pid;
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError("nats-server " + options_.name + " exited at start:\n" +
                                 LogTail());
    }
    std::ifstream f(log_file_);
    f.seekg(static_cast<std::streamoff>(log_start));
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (text.find("Server is ready") != std::string::npos) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError("nats-server " + options_.name + " not ready in time:\n" +
                                     LogTail());
}

absl::Status NatsServer::Restart() {
  Kill();
  return Launch();
}

void NatsServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

NatsServer::~NatsServer() { Kill(); }

std::string NatsServer::LogTail(size_t max_bytes) const {
  std::ifstream f(log_file_);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace ragd::testing
