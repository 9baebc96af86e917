#pragma once
// Token counts for the fake Azure OpenAI / OpenAI servers, independent of ragd's tokenizer:
// js-tiktoken 1.0.21's counts of the texts the tests send, precomputed into
// tests/testing/data/token_counts.json by tests/testing/tools/make-token-counts.mjs (rerun it
// after adding a text to a test that checks usage exactly). Texts the table lacks get an
// estimate, ceil(UTF-8 bytes / 4) (OpenAI's rule of thumb), so that tests which only need a
// plausible usage (services tests with retrieved prompts) still run; FakeTokenCount says which
// it was, and the fakes count the estimated texts so that exact tests can check for none.
//
// Thread safety: all functions may be called concurrently (the table is loaded once).

#include <cstdint>
#include <optional>
#include <string_view>

namespace ragd::testing {

enum class FakeEncoding { kCl100kBase, kO200kBase };

// The encoding OpenAI uses for a chat model or Azure deployment name: o200k_base when it starts
// with "gpt-4o" (gpt-4o, gpt-4o-mini and their versions), cl100k_base otherwise (gpt-35-turbo,
// gpt-4, the embedding models).
FakeEncoding FakeEncodingForModel(std::string_view model);

// js-tiktoken's count of `text`, or nullopt when the table lacks it.
std::optional<uint64_t> PrecomputedTokenCount(FakeEncoding encoding, std::string_view text);

// The table's count, else the estimate; *exact (when not null) says which.
uint64_t FakeTokenCount(FakeEncoding encoding, std::string_view text, bool* exact = nullptr);

// Prompt tokens of a chat completion by OpenAI's rule for gpt-3.5-turbo, gpt-4 and gpt-4o
// (cookbook "How to count tokens with tiktoken"): 3 per message, plus the tokens of its role
// and content, plus 3 priming the reply. `messages` are (role, content) pairs; *exact is false
// when any text was estimated.
template <typename Messages>
uint64_t FakeChatPromptTokens(FakeEncoding encoding, const Messages& messages,
                              bool* exact = nullptr) {
  uint64_t total = 3;
  bool all_exact = true;
  for (const auto& [role, content] : messages) {
    bool e1 = true, e2 = true;
    total += 3 + FakeTokenCount(encoding, role, &e1) + FakeTokenCount(encoding, content, &e2);
    all_exact = all_exact && e1 && e2;
  }
  if (exact != nullptr) *exact = all_exact;
  return total;
}

}  // namespace ragd::testing
