#include "services/records/statement_access.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/common/vocabulary.h"

namespace lifelong::records {

using auth::Scope;

std::string StatementVenue(const ParsedStatement& p) {
  nlohmann::json j = nlohmann::json::parse(p.text, nullptr, false);
  if (!j.is_object()) return "";
  auto ctx = j.find("context");
  if (ctx == j.end() || !ctx->is_object()) return "";
  auto ext = ctx->find("extensions");
  if (ext == ctx->end() || !ext->is_object()) return "";
  auto v = ext->find(std::string(vocab::kExtVenue));
  return v != ext->end() && v->is_string() ? v->get<std::string>() : "";
}

absl::Status CheckStatementWrite(const auth::AccessGrant& g, const ParsedStatement& p, absl::string_view field) {
  const auth::Principal& who = g.principal();
  switch (g.scope()) {
    case Scope::kAny:
      return absl::OkStatus();
    case Scope::kSelf:
      if (!p.learners.empty() && p.learners.front() == who.subject) return absl::OkStatus();
      return absl::PermissionDeniedError(
          absl::StrCat(field, ".actor: learner ", who.subject, " may only record their own statements"));
    case Scope::kVenue: {
      if (p.verb != vocab::kAttended && p.verb != vocab::kRegistered) {
        return absl::PermissionDeniedError(
            absl::StrCat(field, ".verb: a kiosk records only attended and registered statements"));
      }
      if (StatementVenue(p) != who.venue) {
        return absl::PermissionDeniedError(absl::StrCat(field, ".context.extensions: the venue must be \"",
                                                        who.venue, "\", the kiosk's own"));
      }
      return absl::OkStatus();
    }
    case Scope::kCourses:
      return auth::CheckCourse(g, vocab::CourseIdFromIri(p.activity), absl::StrCat(field, ".object.id"));
    default:
      return absl::PermissionDeniedError(absl::StrCat(field, ": not allowed"));
  }
}

absl::Status CheckStatementRead(const auth::AccessGrant& g, const StatementRecord& r, absl::string_view field) {
  const auth::Principal& who = g.principal();
  switch (g.scope()) {
    case Scope::kAny:
      return absl::OkStatus();
    case Scope::kSelf:
      if (std::find(r.learners.begin(), r.learners.end(), who.subject) != r.learners.end()) {
        return absl::OkStatus();
      }
      return absl::PermissionDeniedError(absl::StrCat(field, ": not a statement of learner ", who.subject));
    case Scope::kCourses:
      return auth::CheckCourse(g, vocab::CourseIdFromIri(r.activity), field);
    default:
      return absl::PermissionDeniedError(absl::StrCat(field, ": not allowed"));
  }
}

}  // namespace lifelong::records
