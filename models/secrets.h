#pragma once
// Where the API keys that a configuration names by environment variable or by file come from.
// models/ reads neither the environment nor files itself: whoever builds the configuration
// hands a SecretReader in (the server's reads its start-up environment and the named files,
// services/server/secrets.h; tests use a map). Keys are read when a client is first built, so
// a deployment whose key is missing fails only the calls that ask for it, not start-up.

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace ragd::models {

class SecretReader {
 public:
  virtual ~SecretReader() = default;
  // The variable's value; nullopt when it is unset. Thread-safe.
  virtual std::optional<std::string> Variable(const std::string& name) const = 0;
  // The file's bytes; an error naming the path when it cannot be read. Thread-safe.
  virtual absl::StatusOr<std::string> File(const std::string& path) const = 0;
};

}  // namespace ragd::models
