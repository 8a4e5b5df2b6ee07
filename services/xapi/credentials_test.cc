#include "services/xapi/credentials.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace lifelong::xapi {
namespace {

std::string Basic(const std::string& user_pass) { return "Basic " + absl::Base64Escape(user_pass); }

TEST(Credentials, ChecksConfiguredPairs) {
  absl::StatusOr<Credentials> c = Credentials::Parse("# dev\nkiosk:secret\n\nlms:p:w\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size(), 2u);
  EXPECT_EQ(*c->Check(Basic("kiosk:secret")), "kiosk");
  EXPECT_EQ(*c->Check(Basic("lms:p:w")), "lms");  // passwords may contain ':'
  EXPECT_EQ(c->Check(Basic("kiosk:wrong")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check(Basic("nobody:secret")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("Bearer x").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("Basic !!!").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(Credentials, RejectsMalformedLinesAndMissingFile) {
  EXPECT_EQ(Credentials::Parse("nocolon\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::Parse(":pw\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::LoadFile("/nonexistent/creds").status().code(), absl::StatusCode::kNotFound);
}

TEST(Credentials, OptionalFieldsMapUsersOntoPrincipals) {
  absl::StatusOr<Credentials> c = Credentials::Parse(
      "feed:s1\nu1app:s2 role=learner subject=u1\nk:s3 role=kiosk subject=kiosk-01 venue=hepingli\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->PrincipalOf("feed").role, auth::Role::kLoader);
  EXPECT_EQ(c->PrincipalOf("feed").subject, "feed");
  EXPECT_EQ(c->PrincipalOf("u1app").role, auth::Role::kLearner);
  EXPECT_EQ(c->PrincipalOf("u1app").subject, "u1");
  EXPECT_EQ(c->PrincipalOf("k").venue, "hepingli");
  EXPECT_EQ(Credentials::Parse("x:y role=wizard\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::Parse("x:y colour=red\n").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::xapi
