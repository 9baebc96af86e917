#include <openssl/sha.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/server/config_yaml_internal.h"

namespace ragd::services {
namespace {

absl::Status EntryError(size_t i, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("auth.api_keys[", i, "]", key.empty() ? "" : ".", key, ": ", what));
}

absl::StatusOr<Role> ParseRole(const std::string& text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "writer") return Role::kWriter;
  if (text == "reader") return Role::kReader;
  return absl::InvalidArgumentError(
      absl::StrCat("expected admin, writer or reader, got \"", text, "\""));
}

// Keys are pasted into environment variables and files by hand: a trailing newline from
// `echo key > file` must not make the key unusable.
std::string TrimKey(std::string key) { return std::string(absl::StripAsciiWhitespace(key)); }

}  // namespace

absl::Status ParseApiKeysYaml(const YAML::Node& node, std::vector<ApiKeyConfig>* out) {
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError("auth.api_keys: expected a list of keys");
  }
  std::vector<ApiKeyConfig> keys;
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& entry = node[i];
    if (!entry.IsMap()) return EntryError(i, "", "expected a mapping");
    ApiKeyConfig key;
    for (const auto& kv : entry) {
      const std::string field = kv.first.as<std::string>();
      if (field == "collections") {
        if (!kv.second.IsSequence()) return EntryError(i, field, "expected a list of names");
        for (const auto& c : kv.second) {
          if (!c.IsScalar()) return EntryError(i, field, "expected a list of names");
          key.collections.push_back(c.Scalar());
        }
        continue;
      }
      if (!kv.second.IsScalar()) return EntryError(i, field, "expected a single value");
      const std::string value = kv.second.Scalar();
      if (field == "name") {
        key.name = value;
      } else if (field == "key_sha256") {
        key.key_sha256 = value;
      } else if (field == "key_env") {
        key.key_env = value;
      } else if (field == "key_file") {
        key.key_file = value;
      } else if (field == "role") {
        absl::StatusOr<Role> role = ParseRole(value);
        if (!role.ok()) return EntryError(i, field, role.status().message());
        key.role = *role;
      } else if (field == "requests_per_second") {
        if (!absl::SimpleAtod(value, &key.requests_per_second) ||
            !std::isfinite(key.requests_per_second) || key.requests_per_second < 0 ||
            key.requests_per_second > 1e6) {
          return EntryError(i, field, absl::StrCat("must be in 0..1000000, got \"", value, "\""));
        }
      } else if (field == "burst") {
        if (!absl::SimpleAtoi(value, &key.burst) || key.burst < 0 || key.burst > 1000000) {
          return EntryError(i, field, absl::StrCat("must be in 0..1000000, got \"", value, "\""));
        }
      } else {
        return EntryError(i, field, "unknown key");
      }
    }
    if (key.name.empty()) return EntryError(i, "name", "required");
    if (!names.insert(key.name).second) {
      return EntryError(i, "name", absl::StrCat("duplicate name \"", key.name, "\""));
    }
    int sources = !key.key_sha256.empty() + !key.key_env.empty() + !key.key_file.empty();
    if (sources != 1) {
      return EntryError(i, "", "set exactly one of key_sha256, key_env, key_file");
    }
    keys.push_back(std::move(key));
  }
  *out = std::move(keys);
  return absl::OkStatus();
}

void EmitApiKeysYaml(const std::vector<ApiKeyConfig>& keys, YAML::Emitter& out) {
  out << YAML::Key << "api_keys" << YAML::Value << YAML::BeginSeq;
  for (const ApiKeyConfig& k : keys) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << k.name;
    if (!k.key_sha256.empty()) out << YAML::Key << "key_sha256" << YAML::Value << "<redacted>";
    if (!k.key_env.empty()) out << YAML::Key << "key_env" << YAML::Value << k.key_env;
    if (!k.key_file.empty()) out << YAML::Key << "key_file" << YAML::Value << k.key_file;
    out << YAML::Key << "role" << YAML::Value << RoleName(k.role);
    if (!k.collections.empty()) {
      out << YAML::Key << "collections" << YAML::Value << YAML::Flow << k.collections;
    }
    out << YAML::Key << "requests_per_second" << YAML::Value << k.requests_per_second;
    out << YAML::Key << "burst" << YAML::Value << k.burst;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

std::string Sha256(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status ResolveApiKeys(const std::vector<std::string>& environment,
                            std::vector<ApiKeyConfig>* keys) {
  for (size_t i = 0; i < keys->size(); ++i) {
    ApiKeyConfig& k = (*keys)[i];
    if (!k.key_sha256.empty()) {
      std::string raw;
      if (k.key_sha256.size() != 64 ||
          !absl::c_all_of(k.key_sha256, [](char c) { return absl::ascii_isxdigit(c); })) {
        return EntryError(i, "key_sha256", "expected 64 hex digits");
      }
      k.digest = absl::HexStringToBytes(k.key_sha256);
      continue;
    }
    std::string key;
    if (!k.key_env.empty()) {
      const std::string prefix = k.key_env + "=";
      for (const std::string& e : environment) {
        if (e.compare(0, prefix.size(), prefix) == 0) key = e.substr(prefix.size());
      }
      key = TrimKey(std::move(key));
      if (key.empty()) {
        return EntryError(i, "key_env", absl::StrCat("variable ", k.key_env, " is unset or empty"));
      }
    } else {
      absl::StatusOr<std::string> text =
          ReadConfigFile(absl::StrCat("auth.api_keys[", i, "].key_file"), k.key_file);
      if (!text.ok()) return text.status();
      key = TrimKey(*std::move(text));
      if (key.empty()) return EntryError(i, "key_file", absl::StrCat(k.key_file, " is empty"));
    }
    k.digest = Sha256(key);
  }
  return absl::OkStatus();
}

}  // namespace ragd::services
