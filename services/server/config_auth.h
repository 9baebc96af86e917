#pragma once
// The `auth.api_keys` list of ragd's YAML configuration (part of services/server/config, split out
// because it is a list of structured entries rather than scalar settings):
//
//   auth:
//     api_keys:
//       - name: ingest-job              # shown in logs and errors, never the key
//         key_env: RAGD_INGEST_KEY      # or key_file: /run/secrets/ingest, or key_sha256: <hex>
//         role: writer                  # admin | writer | reader
//         collections: [docs, faq]      # optional: only these collections
//         requests_per_second: 50       # optional token bucket (0: unlimited)
//         burst: 100                    # optional; default max(1, requests_per_second)
//
// Keys are never kept in clear: key_env and key_file are read once at start-up and only their
// SHA-256 is kept; --print-config shows the variable or file name, never a key or its hash.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/api/methods.h"  // Role

namespace ragd::services {

struct ApiKeyConfig {
  std::string name;
  // Exactly one of the three. key_sha256: lowercase or uppercase hex of SHA-256(key).
  std::string key_sha256;
  std::string key_env;
  std::string key_file;
  Role role = Role::kReader;
  // Empty: every collection.
  std::vector<std::string> collections;
  // Token bucket; 0 disables. Default: 0, and burst max(1, requests_per_second).
  double requests_per_second = 0;
  int64_t burst = 0;
  // Filled by ResolveApiKeys: the 32-byte SHA-256 of the key. Never printed.
  std::string digest;
};

// Reads key_env / key_file (from `environment`, "NAME=VALUE" strings, and the file system)
// and fills every entry's digest. INVALID_ARGUMENT naming the entry when a variable is unset
// or empty, a file unreadable or empty, or a key_sha256 not 64 hex digits.
absl::Status ResolveApiKeys(const std::vector<std::string>& environment,
                            std::vector<ApiKeyConfig>* keys);

// SHA-256 of `data` (32 raw bytes), with OpenSSL's libcrypto.
std::string Sha256(const std::string& data);

// A whole file (TLS certificates and keys); INVALID_ARGUMENT naming `key` when unreadable.
absl::StatusOr<std::string> ReadConfigFile(const std::string& key, const std::string& path);

}  // namespace ragd::services
