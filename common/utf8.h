#pragma once
// UTF-8 validation shared by every layer that accepts text from users.

#include <cstddef>
#include <string>
#include <string_view>

namespace ragd {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Length of the longest prefix of `s` that is at most `max_bytes` long and does not end inside
// a UTF-8 sequence. `s` must be valid UTF-8.
size_t Utf8SafePrefix(std::string_view s, size_t max_bytes);

// What an error message may echo of a value from outside (an id, a name, a path): at most
// `max_bytes` of it, cut on a UTF-8 boundary, with "..." and the full length appended when cut;
// bytes that are not valid UTF-8 are shown as \xNN. Messages stay short whatever the input, so a
// client's metadata limits are never exceeded by an echo. Default: 64 bytes.
std::string EchoPrefix(std::string_view s, size_t max_bytes = 64);

}  // namespace ragd
