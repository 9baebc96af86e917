#include "models/sse_decoder.h"

namespace ragd::models {

bool SseDecoder::Feed(std::string_view bytes,
                      const std::function<bool(std::string_view)>& on_event) {
  if (overflowed_) return false;
  size_t i = 0;
  if (last_was_cr_ && !bytes.empty() && bytes[0] == '\n') i = 1;
  last_was_cr_ = false;
  while (i < bytes.size()) {
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      if (line_.size() + (bytes.size() - i) > max_line_bytes_) {
        overflowed_ = true;
        return false;
      }
      line_.append(bytes.substr(i));
      return true;
    }
    bool ok;
    if (line_.empty()) {
      ok = Line(bytes.substr(i, end - i), on_event);
    } else {
      line_.append(bytes.substr(i, end - i));
      std::string line = std::move(line_);
      line_.clear();
      ok = Line(line, on_event);
    }
    // A CRLF pair is one line end, even when split between two pieces.
    if (bytes[end] == '\r') {
      if (end + 1 < bytes.size()) {
        if (bytes[end + 1] == '\n') ++end;
      } else {
        last_was_cr_ = true;
      }
    }
    i = end + 1;
    if (!ok) return false;
  }
  return true;
}

bool SseDecoder::Line(std::string_view line,
                      const std::function<bool(std::string_view)>& on_event) {
  if (line.empty()) {
    if (!has_data_) return true;
    std::string data = std::move(data_);
    data_.clear();
    has_data_ = false;
    return on_event(data);
  }
  if (line[0] == ':') return true;  // a comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field != "data") return true;
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
  return true;
}

}  // namespace ragd::models
