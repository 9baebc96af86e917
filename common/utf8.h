#pragma once
// UTF-8 validation shared by every layer that accepts text from users.

#include <cstddef>
#include <string_view>

namespace ragd {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Length of the longest prefix of `s` that is at most `max_bytes` long and does not end inside
// a UTF-8 sequence. `s` must be valid UTF-8.
size_t Utf8SafePrefix(std::string_view s, size_t max_bytes);

}  // namespace ragd
