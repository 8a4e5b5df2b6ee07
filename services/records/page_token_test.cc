#include "services/records/page_token.h"

#include <gtest/gtest.h>

namespace lifelong::records {
namespace {

TEST(PageToken, RoundTrip) {
  PageTokenCodec codec(std::string(32, 'k'));
  PagePosition pos;
  pos.ascending = true;
  pos.seq = 123456789;
  pos.id.fill(9);
  std::string token = codec.Encode("filters", pos);
  absl::StatusOr<PagePosition> back = codec.Decode("filters", true, token);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->seq, pos.seq);
  EXPECT_EQ(back->id, pos.id);
}

TEST(PageToken, RejectsForgedTamperedAndForeign) {
  PageTokenCodec codec(std::string(32, 'k'));
  PageTokenCodec other(std::string(32, 'x'));
  PagePosition pos;
  pos.seq = 5;
  std::string token = codec.Encode("f", pos);
  // Signed with another key.
  EXPECT_EQ(codec.Decode("f", false, other.Encode("f", pos)).status().code(), absl::StatusCode::kInvalidArgument);
  // Any single changed character.
  for (size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(codec.Decode("f", false, t).status().code(), absl::StatusCode::kInvalidArgument) << i;
  }
  // Truncated, garbage, empty.
  EXPECT_EQ(codec.Decode("f", false, token.substr(0, 10)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(codec.Decode("f", false, "!!!").status().code(), absl::StatusCode::kInvalidArgument);
  // Other filters or order than it was issued for.
  EXPECT_EQ(codec.Decode("g", false, token).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(codec.Decode("f", true, token).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status s = codec.Decode("g", false, token).status();
  EXPECT_NE(s.message().find("page_token"), std::string::npos);
}

}  // namespace
}  // namespace lifelong::records
