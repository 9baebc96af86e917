#pragma once
// The models' SecretReader (models/secrets.h) of the ragd process: API keys named by
// environment variable come from the environment ragd started with (the same list config reads
// RAGD_* settings from), keys named by file are read from the file system when a client is
// first built (so a rotated Kubernetes secret mount is read afresh by a new deployment's
// client, and a missing key fails only the calls that need it).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/secrets.h"

namespace ragd::services {

class ProcessSecrets final : public models::SecretReader {
 public:
  // `environment`: "NAME=VALUE" strings (ProcessEnvironment(), or a test's list).
  explicit ProcessSecrets(const std::vector<std::string>& environment);

  std::optional<std::string> Variable(const std::string& name) const override;
  // NOT_FOUND / PERMISSION_DENIED-like failures as FAILED_PRECONDITION naming the path.
  absl::StatusOr<std::string> File(const std::string& path) const override;

 private:
  std::map<std::string, std::string> variables_;
};

}  // namespace ragd::services
