#pragma once
// The one place ragctl builds its channel: plaintext or TLS (--tls, --ca, --cert, --key), and
// the API key (--api-key / RAGD_API_KEY) attached to every call by a client interceptor,
// because call credentials are refused on an insecure channel.

#include <grpcpp/grpcpp.h>

#include <memory>

#include "cli/ragctl_commands.h"

namespace ragd::cli {

// Exits with code 2 (usage) when a TLS file cannot be read: nothing can be sent without it.
std::shared_ptr<grpc::Channel> CreateRagdChannel(const GlobalOptions& options,
                                                 const grpc::ChannelArguments& args);

}  // namespace ragd::cli
