#include "tests/testing/fake_token_counts.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>

#include "nlohmann/json.hpp"

namespace ragd::testing {
namespace {

struct Table {
  std::unordered_map<std::string, uint64_t> cl100k;
  std::unordered_map<std::string, uint64_t> o200k;
};

// A missing or broken data file is a broken checkout: the tests cannot mean anything.
const Table& Load() {
  static const Table* table = [] {
    const std::string path = std::string(RAGD_FAKES_DATA_DIR) + "/token_counts.json";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!in || j.is_discarded() || !j.contains("cl100k_base") || !j.contains("o200k_base")) {
      std::cerr << "fake_token_counts: cannot read " << path << "\n";
      std::abort();
    }
    auto* t = new Table;
    for (const auto& [text, n] : j["cl100k_base"].items()) t->cl100k[text] = n.get<uint64_t>();
    for (const auto& [text, n] : j["o200k_base"].items()) t->o200k[text] = n.get<uint64_t>();
    return t;
  }();
  return *table;
}

}  // namespace

FakeEncoding FakeEncodingForModel(std::string_view model) {
  return model.starts_with("gpt-4o") ? FakeEncoding::kO200kBase : FakeEncoding::kCl100kBase;
}

std::optional<uint64_t> PrecomputedTokenCount(FakeEncoding encoding, std::string_view text) {
  const Table& t = Load();
  const auto& counts = encoding == FakeEncoding::kO200kBase ? t.o200k : t.cl100k;
  if (auto it = counts.find(std::string(text)); it != counts.end()) return it->second;
  return std::nullopt;
}

uint64_t FakeTokenCount(FakeEncoding encoding, std::string_view text, bool* exact) {
  if (std::optional<uint64_t> n = PrecomputedTokenCount(encoding, text)) {
    if (exact != nullptr) *exact = true;
    return *n;
  }
  if (exact != nullptr) *exact = false;
  return (text.size() + 3) / 4;
}

}  // namespace ragd::testing
