// ragd_tokenize: prints the token count (default) or the token ids of a file or stdin.
//
//   ragd_tokenize [--encoding cl100k_base|o200k_base] [--ids] [--repeat N] [FILE]
//
// --repeat N encodes the input N times and reports throughput in MB/s (1 MB = 1e6 bytes) on
// stderr; this is how the figures in models/README.md were measured.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

#include "models/tokenizer.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: ragd_tokenize [--encoding cl100k_base|o200k_base] [--ids] [--repeat N] "
               "[FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view encoding_name = "cl100k_base";
  bool print_ids = false;
  long repeat = 0;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--encoding" && i + 1 < argc) {
      encoding_name = argv[++i];
    } else if (arg == "--ids") {
      print_ids = true;
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::strtol(argv[++i], nullptr, 10);
    } else if (!arg.empty() && arg[0] != '-' && path == nullptr) {
      path = argv[i];
    } else {
      return Usage();
    }
  }
  const auto encoding = ragd::models::Tokenizer::EncodingByName(encoding_name);
  if (!encoding.ok()) {
    std::fprintf(stderr, "%s\n", encoding.status().ToString().c_str());
    return 2;
  }
  std::string text;
  if (path != nullptr) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", path);
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }

  const ragd::models::Tokenizer& tokenizer = ragd::models::Tokenizer::Get(*encoding);
  if (repeat > 0) {
    size_t total = 0;
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < repeat; ++i) total += tokenizer.Encode(text).size();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "%s: %zu bytes x %ld in %.3f s: %.2f MB/s (%zu tokens)\n",
                 std::string(encoding_name).c_str(), text.size(), repeat, seconds,
                 static_cast<double>(text.size()) * repeat / seconds / 1e6, total / repeat);
  }
  if (print_ids) {
    std::ostringstream out;
    for (uint32_t id : tokenizer.Encode(text)) out << id << '\n';
    std::fputs(out.str().c_str(), stdout);
  } else {
    std::printf("%zu\n", tokenizer.Count(text));
  }
  return 0;
}
