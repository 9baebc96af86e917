#include "ingest/document.h"

#include <type_traits>
#include <variant>

#include "common/hash.h"

namespace ragd::ingest {
namespace {

// Every field is length- or tag-prefixed, so that moving bytes between fields ("ab","c" vs
// "a","bc") changes the hash.
void PutU64(Hasher64& h, uint64_t v) { h.Update(&v, sizeof(v)); }
void PutStr(Hasher64& h, const std::string& s) {
  PutU64(h, s.size());
  h.Update(s);
}

}  // namespace

uint64_t ContentHash(const Document& doc) {
  Hasher64 h;
  PutStr(h, doc.id);
  PutStr(h, doc.title);
  PutStr(h, doc.text);
  PutU64(h, doc.metadata.size());
  for (const auto& [key, value] : doc.metadata) {
    PutStr(h, key);
    PutU64(h, value.index());
    std::visit(
        [&h](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            PutStr(h, v);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            PutU64(h, v.size());
            for (const auto& s : v) PutStr(h, s);
          } else {
            h.Update(&v, sizeof(v));
          }
        },
        value);
  }
  PutU64(h, doc.sections.size());
  for (const Section& s : doc.sections) {
    PutU64(h, s.begin);
    PutU64(h, s.end);
    PutU64(h, s.heading_path.size());
    for (const auto& p : s.heading_path) PutStr(h, p);
  }
  PutU64(h, doc.pages.size());
  for (const PageSpan& p : doc.pages) {
    PutU64(h, p.begin);
    PutU64(h, p.end);
    PutU64(h, static_cast<uint64_t>(p.page));
  }
  return h.Digest();
}

}  // namespace ragd::ingest
