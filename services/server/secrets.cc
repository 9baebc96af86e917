#include "services/server/secrets.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace ragd::services {

ProcessSecrets::ProcessSecrets(const std::vector<std::string>& environment) {
  for (const std::string& entry : environment) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    variables_.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
}

std::optional<std::string> ProcessSecrets::Variable(const std::string& name) const {
  auto it = variables_.find(name);
  if (it == variables_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::string> ProcessSecrets::File(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  return ss.str();
}

}  // namespace ragd::services
