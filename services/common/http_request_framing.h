// Where one HTTP/1.1 request ends in a byte buffer, without parsing more of it
// than that takes: the header block, then a body of Content-Length bytes or
// of chunked transfer coding. HttpServer's connection loop uses it to read
// whole requests off non-blocking sockets before a worker thread sees them
// (http_server.h), so a slow or silent client never holds a worker.
//
// It also refuses, before any body is read, what must not reach the parser:
// oversized header blocks, bodies over the limit, and the framing ambiguities
// behind request smuggling (Content-Length with Transfer-Encoding, differing
// Content-Length values, codings other than chunked).
//
// Pure functions; thread-safe.
#ifndef LIFELONG_SERVICES_COMMON_HTTP_REQUEST_FRAMING_H_
#define LIFELONG_SERVICES_COMMON_HTTP_REQUEST_FRAMING_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace lifelong {

struct FramingLimits {
  size_t max_header_bytes = 16 << 10;  // request line and headers, with the blank line
  size_t max_body_bytes = 16 << 20;    // decoded body (chunk data for chunked)
};

struct RequestFrame {
  enum class State {
    kIncomplete,  // more bytes needed
    kComplete,    // the request is buffer[0, total_bytes)
    kError,       // answer error_status with error, then close
  };
  State state = State::kIncomplete;
  // Once the header block is complete (0 before): its length, with the blank line.
  size_t header_bytes = 0;
  // kComplete: the length of the whole request.
  size_t total_bytes = 0;
  // The headers ask for "Expect: 100-continue" (meaningful once header_bytes > 0).
  bool expect_continue = false;
  // kError: 400 (malformed framing), 413 (body over the limit), 431 (header
  // block over the limit), 501 (a transfer coding other than chunked).
  int error_status = 0;
  std::string error;  // what was wrong, for the response body and logs
};

// How far framing got in a chunked body that is not whole yet. A caller that
// frames the same buffer again after appending to it passes it back, and
// framing goes on from there; without it each call re-walks every chunk
// (quadratic in the body: a body of 1-byte chunks, re-framed at every read,
// held an event loop for tens of seconds). Reset it (to {}) whenever the
// buffer's start changes (a request taken off it).
struct ChunkedProgress {
  size_t pos = 0;     // offset of the next chunk-size line (0: none yet)
  uint64_t body = 0;  // decoded body bytes before it
};

// Frames the request at the start of `buffer` (bytes after it, a pipelined
// next request, are not looked at). Linear in the header block plus the
// bytes after `progress` (all of the buffer without one).
RequestFrame FrameRequest(absl::string_view buffer, const FramingLimits& limits, ChunkedProgress* progress = nullptr);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_HTTP_REQUEST_FRAMING_H_
