// IRIs and language tags as xAPI uses them (RFC 3987, RFC 5646): the
// syntactic checks shared by statement validation, learner keys and tools.
// Pure functions, thread-safe.
#ifndef LIFELONG_SERVICES_DOMAIN_IRI_H_
#define LIFELONG_SERVICES_DOMAIN_IRI_H_

#include "absl/strings/string_view.h"

namespace lifelong::domain {

// True for an absolute IRI: scheme ":" rest, no spaces or forbidden characters.
bool IsAbsoluteIri(absl::string_view text);

// True for an RFC 5646 language tag ("zh-CN", "en", "zh-Hans-CN").
bool IsLanguageTag(absl::string_view text);

}  // namespace lifelong::domain

#endif  // LIFELONG_SERVICES_DOMAIN_IRI_H_
