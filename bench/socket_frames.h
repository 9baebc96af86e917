#pragma once
// The socket floor's wire (bench/README.md, "Session 15: the socket floor"): over one TCP
// connection, each message is a 4-byte little-endian length and the serialized protobuf. Both
// ends use these, ragd_grpc_floor --api socket and the bench's client (floor_suite.cc).
// Header-only: ragd_grpc_floor links no bench library.

#include <google/protobuf/message_lite.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ragd::bench {

// One end's reading state: bytes received and not yet consumed (a frame may arrive in pieces,
// and in principle with the next one behind it).
struct FrameReader {
  std::vector<char> buffer = std::vector<char>(64 << 10);
  size_t have = 0;
};

// Sends `message` as one frame, serialized into `scratch` (kept across calls); false when the
// connection fails.
inline bool SendFrame(int fd, const google::protobuf::MessageLite& message, std::string* scratch) {
  const uint32_t size = static_cast<uint32_t>(message.ByteSizeLong());
  scratch->resize(4 + size);
  std::memcpy(scratch->data(), &size, 4);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(scratch->data() + 4));
  for (size_t sent = 0; sent < scratch->size();) {
    const ssize_t n = send(fd, scratch->data() + sent, scratch->size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one frame (blocking) and parses it into `message`; false when the peer closed, the
// connection failed, the frame is longer than `max_bytes` or does not parse.
inline bool RecvFrame(int fd, uint32_t max_bytes, FrameReader* reader,
                      google::protobuf::MessageLite* message) {
  std::vector<char>& in = reader->buffer;
  uint32_t size = 0;
  for (;;) {
    if (reader->have >= 4) {
      std::memcpy(&size, in.data(), 4);
      if (size > max_bytes) return false;
      if (reader->have >= 4 + size) break;
      if (in.size() < 4 + size) in.resize(4 + size);
    }
    const ssize_t n = recv(fd, in.data() + reader->have, in.size() - reader->have, 0);
    if (n <= 0) return false;
    reader->have += static_cast<size_t>(n);
  }
  if (!message->ParseFromArray(in.data() + 4, static_cast<int>(size))) return false;
  reader->have -= 4 + size;
  std::memmove(in.data(), in.data() + 4 + size, reader->have);
  return true;
}

}  // namespace ragd::bench
