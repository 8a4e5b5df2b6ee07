#include "services/common/http_request_framing.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/string_view.h"

namespace lifelong {
namespace {

using State = RequestFrame::State;

FramingLimits Limits() {
  FramingLimits l;
  l.max_header_bytes = 256;
  l.max_body_bytes = 100;
  return l;
}

TEST(FrameRequest, GetWithoutBodyEndsAtTheBlankLine) {
  const std::string req = "GET /xapi/about HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t n = 0; n < req.size(); ++n) {
    EXPECT_EQ(FrameRequest(req.substr(0, n), Limits()).state, State::kIncomplete) << n;
  }
  RequestFrame f = FrameRequest(req + "GET /next HTTP/1.1\r\n", Limits());
  EXPECT_EQ(f.state, State::kComplete);
  EXPECT_EQ(f.total_bytes, req.size());
  EXPECT_EQ(f.header_bytes, req.size());
}

TEST(FrameRequest, ContentLengthBody) {
  const std::string head = "POST /s HTTP/1.1\r\ncontent-length: 5\r\nExpect: 100-Continue\r\n\r\n";
  RequestFrame f = FrameRequest(head + "abc", Limits());
  EXPECT_EQ(f.state, State::kIncomplete);
  EXPECT_EQ(f.header_bytes, head.size());
  EXPECT_TRUE(f.expect_continue);
  f = FrameRequest(head + "abcdeXYZ", Limits());
  EXPECT_EQ(f.state, State::kComplete);
  EXPECT_EQ(f.total_bytes, head.size() + 5);
}

TEST(FrameRequest, ChunkedBody) {
  const std::string head = "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body = "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n";
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_EQ(FrameRequest(head + body.substr(0, n), Limits()).state, State::kIncomplete) << n;
  }
  RequestFrame f = FrameRequest(head + body + "NEXT", Limits());
  EXPECT_EQ(f.state, State::kComplete);
  EXPECT_EQ(f.total_bytes, head.size() + body.size());
  f = FrameRequest(head + "3\r\nabcX\r\n", Limits());
  EXPECT_EQ(f.state, State::kError);
  EXPECT_EQ(f.error_status, 400);
  f = FrameRequest(head + "zz\r\n", Limits());
  EXPECT_EQ(f.error_status, 400);
  EXPECT_NE(f.error.find("chunk size"), std::string::npos);
  // The body limit counts chunk data, before it arrives.
  f = FrameRequest(head + "65\r\n", Limits());
  EXPECT_EQ(f.error_status, 413);
  f = FrameRequest(head + "ffffffffffffffffffff\r\n", Limits());
  EXPECT_EQ(f.error_status, 413);
}

// Framing a growing chunked body again goes on where the last call stopped:
// the same answers as framing from the start, with the progress never more
// than one chunk behind the end of what has arrived.
TEST(FrameRequest, ChunkedProgressResumesWhereTheLastCallStopped) {
  FramingLimits limits;
  limits.max_header_bytes = 256;
  limits.max_body_bytes = 1 << 20;
  const std::string head = "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string body;
  for (int i = 0; i < 5000; ++i) body += (i % 3 == 0) ? "1;e=x\r\nX\r\n" : "2\r\nXY\r\n";
  body += "0\r\nTrailer: t\r\n\r\n";
  const std::string whole = head + body;
  ChunkedProgress progress;
  for (size_t n = 1; n < whole.size(); n += 7) {
    RequestFrame resumed = FrameRequest(absl::string_view(whole).substr(0, n), limits, &progress);
    ASSERT_EQ(resumed.state, State::kIncomplete) << n;
    if (n >= head.size()) {
      ASSERT_LE(n - progress.pos, 16u) << "progress lags at " << n << ": " << progress.pos;
    }
  }
  RequestFrame f = FrameRequest(whole + "NEXT", limits, &progress);
  EXPECT_EQ(f.state, State::kComplete);
  EXPECT_EQ(f.total_bytes, whole.size());
  // Errors and the body limit are seen through resumed framing too.
  progress = {};
  limits.max_body_bytes = 100;
  std::string big = head;
  for (int i = 0; i < 60; ++i) big += "2\r\nXY\r\n";
  for (size_t n = head.size(); n < big.size(); n += 5) {
    RequestFrame g = FrameRequest(absl::string_view(big).substr(0, n), limits, &progress);
    if (g.state == State::kError) {
      EXPECT_EQ(g.error_status, 413);
      return;
    }
  }
  ADD_FAILURE() << "the body limit was not enforced";
}

TEST(FrameRequest, LimitsAnswerBeforeTheBodyArrives) {
  RequestFrame f = FrameRequest("POST /s HTTP/1.1\r\nContent-Length: 101\r\n\r\n", Limits());
  EXPECT_EQ(f.state, State::kError);
  EXPECT_EQ(f.error_status, 413);
  f = FrameRequest("GET /" + std::string(300, 'a'), Limits());
  EXPECT_EQ(f.error_status, 431);
  f = FrameRequest("GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n", Limits());
  EXPECT_EQ(f.error_status, 431);
}

TEST(FrameRequest, AmbiguousFramingIsRefused) {
  const auto status = [](const std::string& headers) {
    return FrameRequest("POST /s HTTP/1.1\r\n" + headers + "\r\n", Limits()).error_status;
  };
  EXPECT_EQ(status("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"), 400);
  EXPECT_EQ(status("Content-Length: 3\r\nContent-Length: 4\r\n"), 400);
  EXPECT_EQ(status("Content-Length: 3\r\nContent-Length: 3\r\n"), 0);
  EXPECT_EQ(status("Content-Length: -1\r\n"), 400);
  EXPECT_EQ(status("Content-Length: 1e3\r\n"), 400);
  EXPECT_EQ(status("Content-Length: 99999999999999999999999\r\n"), 400);
  EXPECT_EQ(status("Transfer-Encoding: gzip, chunked\r\n"), 501);
  EXPECT_EQ(status("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 501);
  EXPECT_EQ(status("Content Length: 3\r\n"), 400);
  EXPECT_EQ(status("X: a\r\n folded\r\n"), 400);
  EXPECT_EQ(status("NoColon\r\n"), 400);
  EXPECT_EQ(FrameRequest("\r\nGET / HTTP/1.1\r\n\r\n", Limits()).error_status, 400);
}

}  // namespace
}  // namespace lifelong
