#pragma once
// Incremental decoder of server-sent events (the WHATWG "text/event-stream" format) as the
// chat-completions APIs send them: `data: {...}` lines, events ended by a blank line, `:`
// comment lines, CRLF or LF line ends. Only `data` fields matter to us; `event`, `id` and
// `retry` fields are ignored.
//
// Thread safety: none; one decoder per stream.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ragd::models {

class SseDecoder {
 public:
  // Longest line accepted, so that a server that never sends a newline cannot grow memory
  // without bound. Default: 8 MiB.
  explicit SseDecoder(size_t max_line_bytes = 8 << 20) : max_line_bytes_(max_line_bytes) {}

  // Consumes `bytes` (any split of the stream) and calls `on_event` with the data of every
  // event completed by them (several `data` lines joined by '\n', one optional space after the
  // colon removed). Events without data are skipped. Returns false, without consuming the
  // rest, when `on_event` returns false or a line exceeds max_line_bytes (see overflowed()).
  bool Feed(std::string_view bytes, const std::function<bool(std::string_view)>& on_event);

  // True when bytes of an unfinished event are buffered: the stream ended mid-event.
  bool has_partial() const { return !line_.empty() || has_data_; }
  bool overflowed() const { return overflowed_; }

 private:
  // Handles one complete line (without its line end).
  bool Line(std::string_view line, const std::function<bool(std::string_view)>& on_event);

  size_t max_line_bytes_;
  std::string line_;  // the unfinished line
  std::string data_;  // data of the event being built
  bool has_data_ = false;
  bool last_was_cr_ = false;  // a '\r' ended the previous piece: skip a '\n' that follows
  bool overflowed_ = false;
};

}  // namespace ragd::models
