#include "cli/session_tokens.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ragd::cli {
namespace {

std::string Key(const std::string& address, const std::string& collection) {
  return address + "|" + collection;
}

nlohmann::json Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  std::stringstream text;
  text << in.rdbuf();
  // A damaged file is treated as empty: it is a cache of tokens, not data.
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json::object();
}

}  // namespace

std::string DefaultSessionTokenPath() {
  if (const char* dir = std::getenv("RAGCTL_STATE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/tokens.json";
  }
  if (const char* dir = std::getenv("XDG_STATE_HOME"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/ragctl/tokens.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.local/state/ragctl/tokens.json";
  }
  return "";
}

std::optional<uint64_t> LoadSessionToken(const std::string& path, const std::string& address,
                                         const std::string& collection) {
  if (path.empty()) return std::nullopt;
  const nlohmann::json j = Read(path);
  auto it = j.find(Key(address, collection));
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

bool SaveSessionToken(const std::string& path, const std::string& address,
                      const std::string& collection, uint64_t sequence) {
  if (path.empty() || sequence == 0) return false;
  nlohmann::json j = Read(path);
  const std::string key = Key(address, collection);
  auto it = j.find(key);
  if (it != j.end() && it->is_number_unsigned() && it->get<uint64_t>() >= sequence) return true;
  j[key] = sequence;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  // Written to a temporary name and renamed: a concurrent reader never sees half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out.flush()) return false;
  }
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace ragd::cli
