// Mints a development bearer token for any role (docs/security.md):
//   bazel run //services/auth:mint_token -- --key_file=var/auth/jwt.key --role=learner --subject=u000123 --ttl=1h
// Prints the token on stdout. For development and tests only: production
// tokens come from the district identity provider.
//
// With --new_key_pair=PRIVATE --public_key_out=PUBLIC it writes a new Ed25519
// key pair instead (ops/stack.sh: the private key for the issuers, the public
// one for services that only verify; services/auth/token.h) and mints nothing.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "services/auth/token.h"

ABSL_FLAG(std::string, key_file, "var/auth/jwt.key",
          "signing key file: an Ed25519 private key in PEM or an HS256 secret (services/auth/token.h)");
ABSL_FLAG(std::string, new_key_pair, "", "write a new Ed25519 private key (PEM, mode 0600) here, and mint nothing");
ABSL_FLAG(std::string, public_key_out, "", "with --new_key_pair: where its public key (PEM) goes");
ABSL_FLAG(std::string, role, "learner", "learner|kiosk|teacher|operator|trainer|recommender|loader");
ABSL_FLAG(std::string, subject, "", "who: a learner key (u000123) or an id (kiosk-hepingli-01)");
ABSL_FLAG(std::string, venue, "", "kiosks: the venue they are bound to");
ABSL_FLAG(std::string, courses, "", "teachers: comma-separated course ids");
ABSL_FLAG(std::string, jti, "", "token id (for revocation); default subject and time");
ABSL_FLAG(std::string, audience, lifelong::auth::kDefaultAudience, "audience");
ABSL_FLAG(absl::Duration, ttl, absl::Hours(1), "validity, e.g. 15m, 8h");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_new_key_pair).empty()) {
    if (absl::GetFlag(FLAGS_public_key_out).empty()) {
      std::cerr << "mint_token: --public_key_out: required with --new_key_pair\n";
      return 2;
    }
    absl::Status s =
        lifelong::auth::WriteEd25519KeyPair(absl::GetFlag(FLAGS_new_key_pair), absl::GetFlag(FLAGS_public_key_out));
    if (!s.ok()) {
      std::cerr << "mint_token: " << s.message() << "\n";
      return 1;
    }
    return 0;
  }
  absl::StatusOr<std::string> key = lifelong::auth::LoadKeyFile(absl::GetFlag(FLAGS_key_file));
  if (!key.ok()) {
    std::cerr << "mint_token: " << key.status().message() << "\n";
    return 2;
  }
  std::optional<lifelong::auth::Role> role = lifelong::auth::RoleFromName(absl::GetFlag(FLAGS_role));
  if (!role) {
    std::cerr << "mint_token: --role: unknown role " << absl::GetFlag(FLAGS_role) << "\n";
    return 2;
  }
  lifelong::auth::Principal p;
  p.role = *role;
  p.subject = absl::GetFlag(FLAGS_subject);
  p.venue = absl::GetFlag(FLAGS_venue);
  if (p.role == lifelong::auth::Role::kKiosk && p.venue.empty()) {
    std::cerr << "mint_token: --venue: required for kiosks\n";
    return 2;
  }
  if (!absl::GetFlag(FLAGS_courses).empty()) p.courses = absl::StrSplit(absl::GetFlag(FLAGS_courses), ',');
  p.token_id = absl::GetFlag(FLAGS_jti);
  if (p.token_id.empty()) p.token_id = absl::StrCat(p.subject, "-", absl::ToUnixSeconds(absl::Now()));
  lifelong::auth::TokenOptions o;
  o.key = *key;
  o.audience = absl::GetFlag(FLAGS_audience);
  absl::StatusOr<std::string> token = lifelong::auth::MintToken(p, absl::GetFlag(FLAGS_ttl), o);
  if (!token.ok()) {
    std::cerr << "mint_token: " << token.status().message() << "\n";
    return 2;
  }
  std::cout << *token << "\n";
  return 0;
}
