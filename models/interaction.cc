#include "models/interaction.h"

#include "services/domain/vocabulary.h"

namespace lifelong::models {

float VerbWeight(absl::string_view verb_iri) {
  if (verb_iri == vocab::kCompleted || verb_iri == vocab::kPassed) return 1.0f;
  if (verb_iri == vocab::kRated || verb_iri == vocab::kBookmarked) return 0.6f;
  if (verb_iri == vocab::kAttended) return 0.5f;
  if (verb_iri == vocab::kRegistered || verb_iri == vocab::kExperienced) return 0.3f;
  return 0.0f;  // failed, voided, unknown verbs
}

}  // namespace lifelong::models
