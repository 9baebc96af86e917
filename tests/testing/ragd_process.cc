#include "tests/testing/ragd_process.h"

#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probes.pb.h"

extern char** environ;

namespace ragd::testing {
namespace {

// A graceful server shutdown sends GOAWAY and a PING and waits for the ack; a client channel
// with no call in flight reads its socket only from gRPC's backup poller, every 5 s by
// default, so every SIGTERM test would wait ~5 s. Set before gRPC initialises (it reads the
// variable at grpc_init), and only when the environment does not choose already.
const bool kFastBackupPoll = [] {
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
  return true;
}();

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool Parse(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return message->ParseFromString(bytes);
}

// Waits for `tag` on `cq`; false when the operation failed or the queue shut down.
bool Await(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  while (cq->Next(&got, &ok)) {
    if (got == tag) return ok;
  }
  return false;
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

// argv/envp arrays built before fork(): between fork() and exec() a child of a threaded
// process may only make async-signal-safe calls.
struct ExecArgs {
  std::vector<std::string> storage;
  std::vector<char*> argv;
  std::vector<std::string> env_storage;
  std::vector<char*> envp;

  ExecArgs(const std::vector<std::string>& args, const std::vector<std::string>& extra_env)
      : storage(args) {
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
    for (const std::string& e : extra_env) env_storage.push_back(e);
    for (std::string& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

// Child side: dies with the test process, gets default signal dispositions, execs.
[[noreturn]] void ExecChild(const ExecArgs& args, int in_fd, int out_fd, int err_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  dup2(in_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  execve(args.argv[0], args.argv.data(), args.envp.data());
  _exit(127);
}

absl::StatusOr<int> ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) {
    return absl::InternalError(absl::StrCat("killed by signal ", WTERMSIG(wstatus)));
  }
  return absl::InternalError("unexpected wait status");
}

}  // namespace

const char* RagdBinary() { return RAGD_BINARY; }

absl::StatusOr<std::unique_ptr<RagdProcess>> RagdProcess::Start(Options options) {
  std::unique_ptr<RagdProcess> p(new RagdProcess(std::move(options)));
  const std::string port_file = (p->scratch_.path() / "port").string();
  const std::string log_file = (p->scratch_.path() / "ragd.log").string();
  const std::string any_port = p->options_.host + ":0";
  std::vector<std::string> args = p->options_.launcher;
  args.insert(args.end(), {RagdBinary(), "--port-file", port_file, "--data-dir",
                           p->options_.data_dir});
  // A test that must know the port before start-up (cluster peers list each other) passes
  // its own --listen; the port file is written either way.
  if (std::find(p->options_.extra_args.begin(), p->options_.extra_args.end(), "--listen") ==
      p->options_.extra_args.end()) {
    args.insert(args.end(), {"--listen", any_port});
  }
  // The admin port defaults to 9090: tests running side by side would fight over it.
  const std::string admin_port_file = (p->scratch_.path() / "admin_port").string();
  const bool own_admin = std::find(p->options_.extra_args.begin(), p->options_.extra_args.end(),
                                   "--admin-listen") == p->options_.extra_args.end();
  if (own_admin) {
    args.insert(args.end(), {"--admin-listen", any_port, "--admin-port-file", admin_port_file});
  }
  // Likewise the HTTP API's 8080.
  const std::string http_port_file = (p->scratch_.path() / "http_port").string();
  const bool own_http = std::find(p->options_.extra_args.begin(), p->options_.extra_args.end(),
                                  "--http-listen") == p->options_.extra_args.end();
  if (own_http) {
    args.insert(args.end(), {"--http-listen", any_port, "--http-port-file", http_port_file});
  }
  args.insert(args.end(), p->options_.extra_args.begin(), p->options_.extra_args.end());
  ExecArgs exec(args, {});
  int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) return absl::InternalError("cannot open log or /dev/null");
  pid_t pid = fork();
  if (pid == 0) ExecChild(exec, null_fd, log_fd, log_fd);
  close(log_fd);
  close(null_fd);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  p->pid_ = pid;

  const absl::Time give_up = absl::Now() + p->options_.start_timeout;
  while (p->port_ == 0) {
    std::ifstream in(port_file);
    std::string text;
    if (in && std::getline(in, text) && absl::SimpleAtoi(text, &p->port_) && p->port_ > 0) break;
    int wstatus = 0;
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      p->pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "ragd exited during start-up (", ExitCodeOf(wstatus).status().ToString(), " / code ",
          WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, "); log:\n", p->LogTail()));
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("ragd wrote no port file; log:\n", p->LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The admin port file is written right after the gRPC one.
  while (own_admin && p->admin_port_ == 0 && absl::Now() < give_up) {
    std::ifstream in(admin_port_file);
    std::string text;
    if (in && std::getline(in, text) && absl::SimpleAtoi(text, &p->admin_port_)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (own_http && p->http_port_ == 0 && absl::Now() < give_up) {
    std::ifstream in(http_port_file);
    std::string text;
    if (in && std::getline(in, text) && absl::SimpleAtoi(text, &p->http_port_)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  p->channel_ = grpc::CreateChannel(p->address(), grpc::InsecureChannelCredentials());
  if (p->options_.wait_for_serving) {
    absl::Status s = p->WaitForServing(give_up - absl::Now());
    if (!s.ok()) return s;
  }
  return p;
}

RagdProcess::~RagdProcess() { Kill(); }

absl::StatusOr<ServingStatus> RagdProcess::Health(const std::string& service) const {
  grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(5)));
  HealthCheckRequest request;
  request.set_service(service);
  grpc::ByteBuffer request_bytes = Serialize(request);
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request_bytes, &cq);
  call->StartCall();
  grpc::ByteBuffer response_bytes;
  grpc::Status status;
  int tag = 0;
  call->Finish(&response_bytes, &status, &tag);
  bool ok = Await(&cq, &tag);
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  if (!ok) return absl::UnavailableError("health call did not complete");
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  HealthCheckResponse response;
  if (!Parse(response_bytes, &response)) return absl::InternalError("bad health response");
  return static_cast<ServingStatus>(response.status());
}

absl::Status RagdProcess::WaitForServing(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not asked yet");
  while (absl::Now() < give_up) {
    absl::StatusOr<ServingStatus> s = Health("");
    if (s.ok() && *s == ServingStatus::kServing) return absl::OkStatus();
    last = s.ok() ? absl::UnavailableError("NOT_SERVING") : s.status();
    int wstatus = 0;
    if (pid_ > 0 && waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("ragd exited (", ExitCodeOf(wstatus).status().ToString(), " / code ",
                       WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, "); log:\n", LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("ragd not SERVING: ", last.ToString(), "; log:\n", LogTail()));
}

void RagdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int wstatus = 0;
  waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

absl::StatusOr<int> RagdProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, SIGTERM);
  return WaitForExit(timeout);
}

absl::StatusOr<int> RagdProcess::WaitForExit(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  const absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    int wstatus = 0;
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ExitCodeOf(wstatus);
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat("ragd still running; log:\n", LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string RagdProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(scratch_.path() / "ragd.log", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() <= max_bytes ? s : s.substr(s.size() - max_bytes);
}

namespace {

// One request on the reflection stream, and its one response.
absl::StatusOr<ServerReflectionResponse> ReflectOnce(const std::shared_ptr<grpc::Channel>& channel,
                                                     const ServerReflectionRequest& request,
                                                     absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(Deadline(timeout));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  int start = 0, write = 0, done = 0, read = 0, finish = 0;
  grpc::ByteBuffer response_bytes;
  grpc::Status status;
  bool ok = false;
  call->StartCall(&start);
  if (Await(&cq, &start)) {
    call->Write(Serialize(request), &write);
    if (Await(&cq, &write)) {
      call->WritesDone(&done);
      if (Await(&cq, &done)) {
        call->Read(&response_bytes, &read);
        ok = Await(&cq, &read);
      }
    }
  }
  call->Finish(&status, &finish);
  Await(&cq, &finish);
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  ServerReflectionResponse response;
  if (!ok || !Parse(response_bytes, &response)) {
    return absl::InternalError("no reflection response");
  }
  return response;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  ServerReflectionRequest request;
  request.set_list_services("");
  absl::StatusOr<ServerReflectionResponse> response = ReflectOnce(channel, request, timeout);
  if (!response.ok()) return response.status();
  std::vector<std::string> names;
  for (const auto& s : response->list_services_response().service()) names.push_back(s.name());
  return names;
}

absl::StatusOr<size_t> FileDescriptorsByReflection(const std::shared_ptr<grpc::Channel>& channel,
                                                   const std::string& symbol,
                                                   absl::Duration timeout) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol);
  absl::StatusOr<ServerReflectionResponse> response = ReflectOnce(channel, request, timeout);
  if (!response.ok()) return response.status();
  if (response->has_error_response()) {
    return absl::Status(static_cast<absl::StatusCode>(response->error_response().error_code()),
                        response->error_response().error_message());
  }
  return static_cast<size_t>(response->file_descriptor_response().file_descriptor_proto_size());
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const std::vector<std::string>& extra_env) {
  ExecArgs exec(argv, extra_env);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) ExecChild(exec, null_fd, out_pipe[1], err_pipe[1]);
  close(null_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) return absl::InternalError("fork failed");
  CommandResult result;
  const absl::Time give_up = absl::Now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (absl::Now() > give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(out_pipe[0]);
      close(err_pipe[0]);
      return absl::DeadlineExceededError(absl::StrCat(absl::StrJoin(argv, " "), ": timed out"));
    }
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  absl::StatusOr<int> code = ExitCodeOf(wstatus);
  if (!code.ok()) return code.status();
  result.exit_code = *code;
  return result;
}

}  // namespace ragd::testing
