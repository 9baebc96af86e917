#include "services/handler_util.h"

#include "absl/strings/str_cat.h"

namespace ragd::services {

absl::Status ValidateCollectionName(absl::string_view field, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be 1 to 64 characters of [A-Za-z0-9_-], got ", name.size()));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must match [A-Za-z0-9_-]{1,64}, got \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace ragd::services
