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

TEST(Credentials, RepositoryCredentialsAreUnusableWithAuthentication) {
  absl::StatusOr<Credentials> marked =
      Credentials::Parse("# lifelong: development-only\nlms:a-long-random-secret\n");
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(marked->CheckUsableWithAuthentication().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Credentials> copied = Credentials::Parse("feed:lifelong-dev role=loader\n");
  ASSERT_TRUE(copied.ok());
  absl::Status s = copied->CheckUsableWithAuthentication();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("feed"), std::string::npos) << s;
  absl::StatusOr<Credentials> own = Credentials::Parse("lms:Zq3-generated-per-stack\n");
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(own->CheckUsableWithAuthentication().ok());
}

}  // namespace
}  // namespace lifelong::xapi
