#include "services/common/http_request_framing.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lifelong {
namespace {

// A chunk-size line ("1a2b;ext=x") longer than this is refused: no honest
// client writes extensions this long.
constexpr size_t kMaxChunkLine = 1024;

RequestFrame Error(int status, std::string message) {
  RequestFrame f;
  f.state = RequestFrame::State::kError;
  f.error_status = status;
  f.error = std::move(message);
  return f;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

// Frames a chunked body starting at `pos` (or where `progress` says an
// earlier call stopped); `f` already has the header fields.
RequestFrame FrameChunked(absl::string_view buffer, size_t pos, const FramingLimits& limits, RequestFrame f,
                          ChunkedProgress* progress) {
  uint64_t body = 0;
  if (progress != nullptr && progress->pos > pos && progress->pos <= buffer.size()) {
    pos = progress->pos;
    body = progress->body;
  }
  // Not whole yet: remember where this chunk's size line starts.
  auto incomplete = [&](size_t line_start, uint64_t body_before) {
    if (progress != nullptr) *progress = ChunkedProgress{line_start, body_before};
    return f;
  };
  while (true) {
    const size_t line_start = pos;
    const uint64_t body_before = body;
    const size_t eol = buffer.find("\r\n", pos);
    if (eol == absl::string_view::npos) {
      if (buffer.size() - pos > kMaxChunkLine) return Error(400, "chunk size line too long");
      return incomplete(line_start, body_before);
    }
    if (eol - pos > kMaxChunkLine) return Error(400, "chunk size line too long");
    absl::string_view line = buffer.substr(pos, eol - pos);
    line = line.substr(0, line.find(';'));  // chunk extensions are ignored
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) return Error(400, "chunk size: missing");
    if (line.size() > 15) return Error(413, "chunk size: over the body limit");
    uint64_t size = 0;
    for (char c : line) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return Error(400, absl::StrCat("chunk size: \"", line, "\" is not hexadecimal"));
      }
      size = size * 16 + (absl::ascii_isdigit(static_cast<unsigned char>(c))
                              ? c - '0'
                              : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    }
    pos = eol + 2;
    if (size == 0) {
      // Optional trailer fields, then the blank line.
      const size_t trailers_start = pos;
      while (true) {
        const size_t end = buffer.find("\r\n", pos);
        if (end == absl::string_view::npos) {
          if (buffer.size() - trailers_start > limits.max_header_bytes) {
            return Error(431, "chunked trailer fields too large");
          }
          return incomplete(line_start, body_before);
        }
        if (end == pos) {
          f.state = RequestFrame::State::kComplete;
          f.total_bytes = end + 2;
          return f;
        }
        pos = end + 2;
      }
    }
    body += size;
    if (body > limits.max_body_bytes) {
      return Error(413, absl::StrCat("request body over ", limits.max_body_bytes, " bytes"));
    }
    if (buffer.size() - pos < size + 2) return incomplete(line_start, body_before);
    if (buffer.substr(pos + size, 2) != "\r\n") return Error(400, "chunk data: not followed by CRLF");
    pos += size + 2;
  }
}

}  // namespace

RequestFrame FrameRequest(absl::string_view buffer, const FramingLimits& limits, ChunkedProgress* progress) {
  RequestFrame f;
  const size_t end = buffer.find("\r\n\r\n");
  if (end == absl::string_view::npos) {
    if (buffer.size() > limits.max_header_bytes) {
      return Error(431, absl::StrCat("request header block over ", limits.max_header_bytes, " bytes"));
    }
    return f;
  }
  f.header_bytes = end + 4;
  if (f.header_bytes > limits.max_header_bytes) {
    return Error(431, absl::StrCat("request header block over ", limits.max_header_bytes, " bytes"));
  }
  const size_t line_end = buffer.find("\r\n");
  if (line_end == 0) return Error(400, "request line: empty");
  bool has_length = false;
  bool chunked = false;
  uint64_t length = 0;
  size_t pos = line_end + 2;
  while (pos < end + 2) {
    const size_t eol = buffer.find("\r\n", pos);
    absl::string_view line = buffer.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return Error(400, "header: obsolete line folding");
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Error(400, absl::StrCat("header: \"", line.substr(0, 64), "\" has no name"));
    }
    const absl::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTokenChar(c)) {
        return Error(400, absl::StrCat("header: \"", name.substr(0, 64), "\" is not a field name"));
      }
    }
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      uint64_t v = 0;
      bool digits = !value.empty() && value.size() <= 19;
      for (char c : value) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
      if (!digits || !absl::SimpleAtoi(value, &v)) {
        return Error(400, absl::StrCat("Content-Length: \"", value.substr(0, 32), "\" is not a length"));
      }
      if (has_length && v != length) return Error(400, "Content-Length: given twice, differently");
      has_length = true;
      length = v;
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      if (!absl::EqualsIgnoreCase(value, "chunked") || chunked) {
        return Error(501, absl::StrCat("Transfer-Encoding: \"", value.substr(0, 32),
                                       "\" is not supported (only one \"chunked\")"));
      }
      chunked = true;
    } else if (absl::EqualsIgnoreCase(name, "Expect")) {
      f.expect_continue = absl::EqualsIgnoreCase(value, "100-continue");
    }
  }
  if (chunked && has_length) {
    return Error(400, "Content-Length and Transfer-Encoding: both given (ambiguous framing)");
  }
  if (chunked) return FrameChunked(buffer, f.header_bytes, limits, f, progress);
  if (length > limits.max_body_bytes) {
    return Error(413, absl::StrCat("request body of ", length, " bytes is over the limit of ", limits.max_body_bytes));
  }
  if (buffer.size() - f.header_bytes < length) return f;
  f.state = RequestFrame::State::kComplete;
  f.total_bytes = f.header_bytes + length;
  return f;
}

}  // namespace lifelong
