#include "cli/ragctl_channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ragd::cli {
namespace {

class ApiKeyInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ApiKeyInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class ApiKeyInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ApiKeyInterceptorFactory(std::string key) : header_("Bearer " + std::move(key)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ApiKeyInterceptor(&header_);
  }

 private:
  const std::string header_;
};

std::string ReadOrExit(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "ragctl: " << flag << ": cannot read " << path << "\n";
    std::exit(kExitUsage);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::shared_ptr<grpc::Channel> CreateRagdChannel(const GlobalOptions& options,
                                                 const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) ssl.pem_root_certs = ReadOrExit("--ca", options.ca_file);
    if (!options.cert_file.empty()) ssl.pem_cert_chain = ReadOrExit("--cert", options.cert_file);
    if (!options.key_file.empty()) ssl.pem_private_key = ReadOrExit("--key", options.key_file);
    credentials = grpc::SslCredentials(ssl);
  }
  if (options.api_key.empty()) {
    return grpc::CreateCustomChannel(options.address, credentials, args);
  }
  // The channel owns the factory, so the header outlives every call.
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<ApiKeyInterceptorFactory>(options.api_key));
  return grpc::experimental::CreateCustomChannelWithInterceptors(options.address, credentials, args,
                                                                 std::move(factories));
}

}  // namespace ragd::cli
