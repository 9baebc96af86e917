#pragma once
// A models::SecretReader over this test process's environment and file system, for tests of
// models/ that name keys by variable or file (models/ reads neither itself; ragd hands it
// services/server/secrets.h's reader).

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "models/secrets.h"

namespace ragd::testing {

class HostSecrets final : public models::SecretReader {
 public:
  std::optional<std::string> Variable(const std::string& name) const override {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }
  absl::StatusOr<std::string> File(const std::string& path) const override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError("cannot open " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::shared_ptr<const models::SecretReader> Shared() {
    static const auto* reader =
        new std::shared_ptr<const models::SecretReader>(std::make_shared<HostSecrets>());
    return *reader;
  }
};

}  // namespace ragd::testing
