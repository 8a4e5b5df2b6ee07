// Learner identity: the learner key, one string that names one xAPI actor
// identity. Every service compares, stores and indexes learners by this key
// (the record store's by_learner index, the recommender's history cache, the
// xAPI documents), so it is canonical: one identity has one key.
//
//   "u123"                              account {homePage: vocab::kDistrictIdp, name: "u123"}
//   "account:<homePage>|<name>"         an account on another identity provider
//   "mailto:someone@example.org"        mbox
//   "sha1:<40 lowercase hex>"           mbox_sha1sum
//   "openid:<uri>"                      openid
//
// Pure functions, thread-safe.
#ifndef LIFELONG_SERVICES_DOMAIN_LEARNER_KEY_H_
#define LIFELONG_SERVICES_DOMAIN_LEARNER_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::domain {

// Validates and canonicalises a learner key given by a caller (forms above):
// sha1: hex is lowercased; a district account ("account:<district IdP>|u1",
// with or without the trailing '/') becomes the bare name when the name has no
// ':'. INVALID_ARGUMENT "<field>: ..." when empty, over 1024 bytes, with
// control characters, invisible or formatting characters (zero-width,
// bidirectional controls, soft hyphen, BOM) or full-width ASCII ("ｕ１": one
// person would become a second learner, or one learner look like another),
// or of no known form.
absl::StatusOr<std::string> CanonicalLearnerKey(absl::string_view key, absl::string_view field);

// The canonical key of the xAPI account {homePage: home_page, name: name}.
// Does not validate (statement validation has checked both already).
std::string AccountLearnerKey(absl::string_view home_page, absl::string_view name);

// Whether `home_page` is the district identity provider (with or without a
// trailing '/').
bool IsDistrictIdp(absl::string_view home_page);

}  // namespace lifelong::domain

#endif  // LIFELONG_SERVICES_DOMAIN_LEARNER_KEY_H_
