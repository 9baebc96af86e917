#include "common/utf8.h"

#include <cstdint>

namespace ragd {

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong encodings, surrogates and values past the Unicode range are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

size_t Utf8SafePrefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  size_t n = max_bytes;
  // Step back over continuation bytes so that the cut falls before a lead byte.
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string EchoPrefix(std::string_view s, size_t max_bytes) {
  std::string out;
  size_t shown = 0;
  while (shown < s.size() && out.size() < max_bytes) {
    // The longest valid UTF-8 sequence at `shown` (1 to 4 bytes), else one byte escaped.
    size_t n = 0;
    for (size_t len = 1; len <= 4 && shown + len <= s.size(); ++len) {
      if (IsValidUtf8(s.substr(shown, len))) {
        n = len;
        break;
      }
    }
    if (n == 0 || (n == 1 && static_cast<unsigned char>(s[shown]) < 0x20)) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto c = static_cast<unsigned char>(s[shown]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      shown += 1;
    } else {
      out.append(s.substr(shown, n));
      shown += n;
    }
  }
  if (shown < s.size()) {
    out += "... (";
    out += std::to_string(s.size());
    out += " bytes)";
  }
  return out;
}

}  // namespace ragd
