#include "services/xapi/multipart.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace lifelong::xapi {
namespace {

TEST(Multipart, BuildParseRoundTrip) {
  std::vector<MultipartPart> parts(2);
  parts[0].headers["Content-Type"] = "application/json";
  parts[0].body = R"({"a":1})";
  parts[1].headers["X-Experience-API-Hash"] = "abc";
  parts[1].body = std::string("bin\0ary\r\n--x", 13);
  std::string ct;
  std::string body = BuildMultipart(parts, &ct);
  absl::StatusOr<std::string> boundary = MultipartBoundary(ct);
  ASSERT_TRUE(boundary.ok());
  absl::StatusOr<std::vector<MultipartPart>> back = ParseMultipart(*boundary, body);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].headers.at("content-type"), "application/json");
  EXPECT_EQ((*back)[0].body, R"({"a":1})");
  EXPECT_EQ((*back)[1].headers.at("x-experience-api-hash"), "abc");
  EXPECT_EQ((*back)[1].body, parts[1].body);
}

TEST(Multipart, RejectsBrokenBodies) {
  EXPECT_EQ(MultipartBoundary("multipart/mixed").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMultipart("b", "no boundary here").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMultipart("b", "--b\r\nContent-Type: x\r\n\r\nbody without end").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMultipart("b", "--b\r\nno-colon-header\r\n\r\nx\r\n--b--").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Multipart, ManyTinyPartsAreRefusedAndParsedInLinearTime) {
  // Parts separated by LF only: every part used to search the rest of the
  // body for a CRLF delimiter (2 million parts x 16 MiB).
  std::string body = "--b\n";
  for (int i = 0; i < 2000000; ++i) body += "\n\nx\n--b\n";
  body += "\n\nx\n--b--";
  absl::StatusOr<std::vector<MultipartPart>> parsed = ParseMultipart("b", body);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("more than 1001 parts"), std::string::npos) << parsed.status();
  // At the limit, LF-only bodies parse (and CRLF ones, as before).
  std::string lf = "--b\n";
  for (size_t i = 0; i + 1 < kMaxMultipartParts; ++i) lf += "\n\nx\n--b\n";
  lf += "\n\nlast\n--b--";
  parsed = ParseMultipart("b", lf);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), kMaxMultipartParts);
  EXPECT_EQ(parsed->back().body, "last");
}

// An LF-delimited part whose body holds CRLFCRLF (binary attachment bytes):
// the headers end at the first blank line, not at the CRLFCRLF in the body.
TEST(Multipart, HeadersEndAtTheFirstBlankLineOfEitherKind) {
  const std::string attachment = "bin\r\n\r\nary: \n\nmore";
  const std::string body =
      "--b\nContent-Type: application/json\n\n{}\n--b\nContent-Type: text/plain\n"
      "X-Experience-API-Hash: abc\n\n" +
      attachment + "\n--b--\n";
  absl::StatusOr<std::vector<MultipartPart>> parsed = ParseMultipart("b", body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].body, "{}");
  EXPECT_EQ((*parsed)[1].headers.at("x-experience-api-hash"), "abc");
  EXPECT_EQ((*parsed)[1].body, attachment);
  // A CRLF part whose body holds LF LF still ends its headers at CRLFCRLF.
  const std::string crlf = "--b\r\nContent-Type: text/plain\r\n\r\nx\n\ny\r\n--b--";
  parsed = ParseMultipart("b", crlf);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].headers.at("content-type"), "text/plain");
  EXPECT_EQ((*parsed)[0].body, "x\n\ny");
}

std::string B64(const std::string& s) {
  std::string out;
  absl::WebSafeBase64Escape(s, &out);
  return out;
}

TEST(Multipart, SignatureChecks) {
  const std::string statement =
      R"({"id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","actor":{"mbox":"mailto:a@b.cn"},)"
      R"("verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},"object":{"id":"http://a/1"},)"
      R"("result":{"duration":"P1DT12H36M0.1237S"},"attachments":[{"sha2":"x"}]})";
  const std::string payload = R"({"id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","actor":{"mbox":"mailto:a@b.cn"},)"
                              R"("verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},"object":{"id":"http://a/1"},)"
                              R"("result":{"duration":"P1DT12H36M0.12S"}})";
  auto jws = [&](const std::string& alg, const std::string& p) {
    return B64(R"({"alg":")" + alg + R"("})") + "." + B64(p) + "." + B64("sig");
  };
  EXPECT_TRUE(CheckStatementSignature(jws("RS256", payload), statement).ok());
  EXPECT_TRUE(CheckStatementSignature(jws("RS512", payload), statement).ok());
  EXPECT_EQ(CheckStatementSignature(jws("HS256", payload), statement).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckStatementSignature(jws("RS256", "{'broken"), statement).code(), absl::StatusCode::kInvalidArgument);
  std::string other = payload;
  other.replace(other.find("attended"), 8, "completed");
  EXPECT_EQ(CheckStatementSignature(jws("RS256", other), statement).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckStatementSignature("only.two", statement).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Multipart, Sha256Hex) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace lifelong::xapi
