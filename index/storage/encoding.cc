#include "index/storage/encoding.h"

#include <cmath>
#include <cstring>

#include "common/hash.h"

namespace ragd::index::storage {
namespace {

// Point record layout, format 1:
//   u8 format | varint label | lp text | lp document_id | varint n | n × (lp key | u8 type | v)
// with v: string = lp bytes; int64 = 8 LE; double = 8 LE (IEEE-754 bits); bool = 1 byte;
// list = varint count, count × lp bytes.
constexpr uint8_t kPointFormat = 1;
enum ValueType : uint8_t { kString = 0, kInt = 1, kDouble = 2, kBool = 3, kList = 4 };

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(std::string("corrupt ") + std::string(what));
}

}  // namespace

void PutFixed16BE(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
void PutFixed32BE(std::string* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}
void PutFixed64BE(std::string* out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}
void PutFixed32LE(std::string* out, uint32_t v) {
  for (int s = 0; s < 32; s += 8) out->push_back(static_cast<char>(v >> s));
}
void PutFixed64LE(std::string* out, uint64_t v) {
  for (int s = 0; s < 64; s += 8) out->push_back(static_cast<char>(v >> s));
}
void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutLengthPrefixed(std::string* out, std::string_view s) {
  PutVarint64(out, s.size());
  out->append(s);
}

bool Reader::ReadU8(uint8_t* v) {
  if (remaining() < 1) return false;
  *v = static_cast<uint8_t>(data_[pos_++]);
  return true;
}
bool Reader::ReadFixed16BE(uint16_t* v) {
  if (remaining() < 2) return false;
  *v = static_cast<uint16_t>((static_cast<uint8_t>(data_[pos_]) << 8) |
                             static_cast<uint8_t>(data_[pos_ + 1]));
  pos_ += 2;
  return true;
}
bool Reader::ReadFixed32BE(uint32_t* v) {
  if (remaining() < 4) return false;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r = (r << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  *v = r;
  return true;
}
bool Reader::ReadFixed64BE(uint64_t* v) {
  if (remaining() < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  *v = r;
  return true;
}
bool Reader::ReadFixed32LE(uint32_t* v) {
  if (remaining() < 4) return false;
  uint32_t r = 0;
  for (int i = 3; i >= 0; --i) r = (r << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  *v = r;
  return true;
}
bool Reader::ReadFixed64LE(uint64_t* v) {
  if (remaining() < 8) return false;
  uint64_t r = 0;
  for (int i = 7; i >= 0; --i) r = (r << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  *v = r;
  return true;
}
bool Reader::ReadVarint64(uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    uint8_t b;
    if (!ReadU8(&b)) return false;
    r |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;  // more than 10 bytes: not a varint we wrote
}
bool Reader::ReadBytes(size_t n, std::string_view* s) {
  if (remaining() < n) return false;
  *s = data_.substr(pos_, n);
  pos_ += n;
  return true;
}
bool Reader::ReadLengthPrefixed(std::string_view* s) {
  uint64_t n;
  if (!ReadVarint64(&n)) return false;
  if (n > remaining()) return false;
  return ReadBytes(static_cast<size_t>(n), s);
}

std::string ShardPrefix(ShardKey k) {
  std::string out;
  out.reserve(6);
  PutFixed32BE(&out, k.collection);
  PutFixed16BE(&out, k.shard);
  return out;
}
std::string PointKey(ShardKey k, std::string_view id) {
  std::string out = ShardPrefix(k);
  out.append(id);
  return out;
}
std::string VectorKey(ShardKey k, Label label) {
  std::string out = ShardPrefix(k);
  PutFixed64BE(&out, label);
  return out;
}
std::string CollectionBegin(uint32_t collection) {
  std::string out;
  PutFixed32BE(&out, collection);
  return out;
}
std::string CollectionEnd(uint32_t collection) {
  // Collection ids never reach UINT32_MAX (the catalog refuses), so +1 does not wrap.
  return CollectionBegin(collection + 1);
}
std::string ShardEnd(ShardKey k) {
  std::string out;
  PutFixed32BE(&out, k.collection);
  if (k.shard == UINT16_MAX) return CollectionEnd(k.collection);
  PutFixed16BE(&out, static_cast<uint16_t>(k.shard + 1));
  return out;
}

std::string EncodePointRecord(const PointRecord& r) {
  std::string out;
  out.reserve(16 + r.text.size() + r.document_id.size());
  out.push_back(static_cast<char>(kPointFormat));
  PutVarint64(&out, r.label);
  PutLengthPrefixed(&out, r.text);
  PutLengthPrefixed(&out, r.document_id);
  PutVarint64(&out, r.metadata.size());
  for (const auto& [key, value] : r.metadata) {
    PutLengthPrefixed(&out, key);
    if (const auto* s = std::get_if<std::string>(&value)) {
      out.push_back(static_cast<char>(kString));
      PutLengthPrefixed(&out, *s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out.push_back(static_cast<char>(kInt));
      PutFixed64LE(&out, static_cast<uint64_t>(*i));
    } else if (const auto* d = std::get_if<double>(&value)) {
      out.push_back(static_cast<char>(kDouble));
      uint64_t bits;
      std::memcpy(&bits, d, sizeof bits);
      PutFixed64LE(&out, bits);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      out.push_back(static_cast<char>(kBool));
      out.push_back(*b ? 1 : 0);
    } else {
      const auto& list = std::get<std::vector<std::string>>(value);
      out.push_back(static_cast<char>(kList));
      PutVarint64(&out, list.size());
      for (const auto& e : list) PutLengthPrefixed(&out, e);
    }
  }
  return out;
}

std::string EncodeTermRecord(const TermRecord& r) {
  std::string out;
  out.push_back(1);
  PutVarint64(&out, r.analyzer);
  uint64_t length = 0;
  size_t bytes = 0;
  for (const auto& [term, tf] : r.terms) {
    length += tf;
    bytes += term.size() + 7;
  }
  out.reserve(out.size() + 30 + bytes);
  PutVarint64(&out, length);
  PutVarint64(&out, r.terms.size());
  for (const auto& [term, tf] : r.terms) {
    PutLengthPrefixed(&out, term);
    PutVarint64(&out, tf);
  }
  return out;
}

absl::StatusOr<TermRecord> DecodeTermRecord(std::string_view data) {
  Reader in(data);
  uint8_t format;
  uint64_t analyzer, length, count;
  if (!in.ReadU8(&format)) return Corrupt("term record: empty");
  if (format != 1)
    return absl::DataLossError("term record: unknown format " + std::to_string(format));
  if (!in.ReadVarint64(&analyzer) || analyzer > UINT32_MAX || !in.ReadVarint64(&length) ||
      !in.ReadVarint64(&count)) {
    return Corrupt("term record: header");
  }
  // Each term takes at least 2 bytes: a count beyond that is corrupt (checked before reserving).
  if (count > in.remaining() / 2) return Corrupt("term record: term count");
  TermRecord r;
  r.analyzer = static_cast<uint32_t>(analyzer);
  r.terms.reserve(count);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view term;
    uint64_t tf;
    if (!in.ReadLengthPrefixed(&term) || !in.ReadVarint64(&tf) || tf == 0 || tf > UINT32_MAX) {
      return Corrupt("term record: term " + std::to_string(i));
    }
    sum += tf;
    r.terms.emplace_back(std::string(term), static_cast<uint32_t>(tf));
  }
  if (sum != length || !in.done()) return Corrupt("term record: length or trailing bytes");
  return r;
}

absl::StatusOr<PointRecord> DecodePointRecord(std::string_view data) {
  Reader in(data);
  uint8_t format;
  if (!in.ReadU8(&format)) return Corrupt("point record: empty");
  if (format != kPointFormat) {
    return absl::DataLossError("point record: unknown format " + std::to_string(format));
  }
  PointRecord r;
  std::string_view text, doc;
  uint64_t n;
  if (!in.ReadVarint64(&r.label) || !in.ReadLengthPrefixed(&text) ||
      !in.ReadLengthPrefixed(&doc) || !in.ReadVarint64(&n)) {
    return Corrupt("point record: header");
  }
  r.text = text;
  r.document_id = doc;
  // Each entry takes at least 3 bytes; a count beyond that is corruption, not a reason to loop.
  if (n > in.remaining() / 3) return Corrupt("point record: metadata count");
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view key;
    uint8_t type;
    if (!in.ReadLengthPrefixed(&key) || !in.ReadU8(&type)) return Corrupt("point record: key");
    MetadataValue value;
    switch (type) {
      case kString: {
        std::string_view s;
        if (!in.ReadLengthPrefixed(&s)) return Corrupt("point record: string");
        value = std::string(s);
        break;
      }
      case kInt: {
        uint64_t v;
        if (!in.ReadFixed64LE(&v)) return Corrupt("point record: int");
        value = static_cast<int64_t>(v);
        break;
      }
      case kDouble: {
        uint64_t bits;
        if (!in.ReadFixed64LE(&bits)) return Corrupt("point record: double");
        double d;
        std::memcpy(&d, &bits, sizeof d);
        value = d;
        break;
      }
      case kBool: {
        uint8_t b;
        if (!in.ReadU8(&b) || b > 1) return Corrupt("point record: bool");
        value = b == 1;
        break;
      }
      case kList: {
        uint64_t count;
        if (!in.ReadVarint64(&count) || count > in.remaining()) {
          return Corrupt("point record: list");
        }
        std::vector<std::string> list;
        list.reserve(count);
        for (uint64_t j = 0; j < count; ++j) {
          std::string_view e;
          if (!in.ReadLengthPrefixed(&e)) return Corrupt("point record: list item");
          list.emplace_back(e);
        }
        value = std::move(list);
        break;
      }
      default:
        return Corrupt("point record: value type " + std::to_string(type));
    }
    r.metadata.emplace(std::string(key), std::move(value));
  }
  if (!in.done()) return Corrupt("point record: trailing bytes");
  return r;
}

std::string EncodeVector(std::span<const float> v) {
  static_assert(sizeof(float) == 4);
  // x86-64 and aarch64 are little-endian; the format is defined as LE so a big-endian port
  // would byte-swap here.
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

absl::Status DecodeVector(std::string_view data, size_t dim, std::vector<float>* out) {
  if (data.size() != dim * sizeof(float)) {
    return absl::DataLossError("corrupt vector: " + std::to_string(data.size()) +
                               " bytes, expected " + std::to_string(dim * sizeof(float)));
  }
  out->resize(dim);
  std::memcpy(out->data(), data.data(), data.size());
  return absl::OkStatus();
}

std::string EncodeSnapshotHeader(const SnapshotHeader& h) {
  std::string out(SnapshotHeader::kMagic, 8);
  PutFixed32LE(&out, h.format_version);
  PutFixed64LE(&out, h.spec_fingerprint);
  PutFixed64LE(&out, h.generation);
  PutFixed64LE(&out, h.payload_bytes);
  PutFixed32LE(&out, h.chunk_bytes);
  PutFixed64LE(&out, h.payload_checksum);
  PutFixed64LE(&out, h.next_label);
  PutFixed64LE(&out, h.sequence);
  PutFixed64LE(&out, Hash64(out));
  return out;
}

absl::StatusOr<SnapshotHeader> DecodeSnapshotHeader(std::string_view data) {
  constexpr size_t kSize = 8 + 4 + 4 + 8 * 6 + 8;  // magic, two u32, six u64, checksum
  if (data.size() != kSize) return Corrupt("snapshot header: size");
  if (data.substr(0, 8) != std::string_view(SnapshotHeader::kMagic, 8)) {
    return Corrupt("snapshot header: magic");
  }
  Reader in(data.substr(kSize - 8));
  uint64_t checksum;
  in.ReadFixed64LE(&checksum);
  if (checksum != Hash64(data.substr(0, kSize - 8))) return Corrupt("snapshot header: checksum");
  Reader r(data.substr(8));
  SnapshotHeader h;
  r.ReadFixed32LE(&h.format_version);
  if (h.format_version != SnapshotHeader::kFormatVersion) {
    return absl::DataLossError("snapshot header: unsupported format version " +
                               std::to_string(h.format_version));
  }
  r.ReadFixed64LE(&h.spec_fingerprint);
  r.ReadFixed64LE(&h.generation);
  r.ReadFixed64LE(&h.payload_bytes);
  r.ReadFixed32LE(&h.chunk_bytes);
  r.ReadFixed64LE(&h.payload_checksum);
  r.ReadFixed64LE(&h.next_label);
  r.ReadFixed64LE(&h.sequence);
  if (h.chunk_bytes == 0) return Corrupt("snapshot header: chunk size");
  return h;
}

std::string SnapshotHeaderKey(ShardKey k) {
  std::string out = ShardPrefix(k);
  out.push_back('H');
  return out;
}
std::string SnapshotChunkKey(ShardKey k, uint64_t generation, uint32_t chunk) {
  std::string out = ShardPrefix(k);
  out.push_back('D');
  PutFixed64BE(&out, generation);
  PutFixed32BE(&out, chunk);
  return out;
}

}  // namespace ragd::index::storage
