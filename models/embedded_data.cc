#include "models/embedded_data.h"

#include <cstddef>

// The .bpe files are pulled in by the assembler's .incbin rather than converted to a C++ array:
// a 1.6 MB array initializer takes the compiler tens of seconds and gigabytes, .incbin takes
// nothing. RAGD_MODELS_DATA_DIR is set by models/CMakeLists.txt, which also makes this object
// depend on the files, so that regenerating them rebuilds it.
// clang-format off
#define RAGD_INCBIN(symbol, file)                                         \
  __asm__(".pushsection .rodata." #symbol ", \"a\", @progbits\n"           \
          ".balign 16\n"                                                  \
          ".globl " #symbol "_begin\n"                                    \
          ".type " #symbol "_begin, @object\n"                            \
          #symbol "_begin:\n"                                             \
          ".incbin \"" RAGD_MODELS_DATA_DIR "/" file "\"\n"               \
          ".globl " #symbol "_end\n"                                      \
          #symbol "_end:\n"                                               \
          ".byte 0\n"                                                     \
          ".popsection\n")
// clang-format on

RAGD_INCBIN(ragd_cl100k_base_ranks, "cl100k_base.bpe");
RAGD_INCBIN(ragd_o200k_base_ranks, "o200k_base.bpe");

extern "C" {
extern const char ragd_cl100k_base_ranks_begin[];
extern const char ragd_cl100k_base_ranks_end[];
extern const char ragd_o200k_base_ranks_begin[];
extern const char ragd_o200k_base_ranks_end[];
}

namespace ragd::models::internal {

std::string_view Cl100kBaseRanks() {
  return std::string_view(
      ragd_cl100k_base_ranks_begin,
      static_cast<size_t>(ragd_cl100k_base_ranks_end - ragd_cl100k_base_ranks_begin));
}

std::string_view O200kBaseRanks() {
  return std::string_view(
      ragd_o200k_base_ranks_begin,
      static_cast<size_t>(ragd_o200k_base_ranks_end - ragd_o200k_base_ranks_begin));
}

}  // namespace ragd::models::internal
