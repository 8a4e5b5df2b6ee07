#include "services/catalog/page_token.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;
using lifelong::v1::ListCoursesRequest;

codec::PageTokenPayload Payload() {
  codec::PageTokenPayload p;
  p.issue_time = absl::FromUnixSeconds(1795000000);
  p.filter_fingerprint = 0xfeedface;
  p.last_id = "c0042";
  return p;
}

TEST(PageToken, SignedTokenVerifiesToTheSamePayload) {
  PageTokenSigner signer(std::string(32, 'k'));
  const std::string token = signer.Sign(Payload());
  for (char c : token) {
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
  }
  absl::StatusOr<codec::PageTokenPayload> back = signer.Verify(token);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->issue_time, Payload().issue_time);
  EXPECT_EQ(back->filter_fingerprint, Payload().filter_fingerprint);
  EXPECT_EQ(back->last_id, "c0042");
}

TEST(PageToken, RejectsTokensOfAnotherKey) {
  PageTokenSigner a(std::string(32, 'a'));
  PageTokenSigner b(std::string(32, 'b'));
  EXPECT_EQ(b.Verify(a.Sign(Payload())).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageToken, RejectsEveryAlteredByte) {
  PageTokenSigner signer(std::string(32, 'k'));
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(signer.Sign(Payload()), &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string altered = raw;
    altered[i] ^= 0x01;
    EXPECT_EQ(signer.Verify(absl::WebSafeBase64Escape(altered)).status().code(), absl::StatusCode::kInvalidArgument)
        << i;
  }
}

TEST(PageToken, RejectsGarbageAndTruncation) {
  PageTokenSigner signer(std::string(32, 'k'));
  const std::string token = signer.Sign(Payload());
  EXPECT_EQ(signer.Verify("!!!not base64!!!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(signer.Verify("AAAA").status().code(), absl::StatusCode::kInvalidArgument);
  for (size_t n = 1; n < token.size(); ++n) {
    EXPECT_EQ(signer.Verify(token.substr(0, n)).status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
}

TEST(PageToken, FingerprintIgnoresPagingButNotFilters) {
  ListCoursesRequest a;
  a.set_category("书法");
  a.set_mode(Course::OFFLINE);
  ListCoursesRequest b = a;
  b.set_page_size(7);
  b.set_page_token("whatever");
  EXPECT_EQ(ListFilterFingerprint(a), ListFilterFingerprint(b));
  ListCoursesRequest c = a;
  c.set_category("绘画");
  EXPECT_NE(ListFilterFingerprint(a), ListFilterFingerprint(c));
  ListCoursesRequest d = a;
  d.set_show_archived(true);
  EXPECT_NE(ListFilterFingerprint(a), ListFilterFingerprint(d));
}

}  // namespace
}  // namespace lifelong::catalog
