#include "services/records/statement_access.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"
#include "services/records/issuer.h"

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

namespace {

// Whether the actor is an anonymous Group (its first learner is a member).
bool IsGroupWithoutIdentifier(const ParsedStatement& p) {
  nlohmann::json j = nlohmann::json::parse(p.text, nullptr, false);
  if (!j.is_object() || !j.contains("actor") || !j["actor"].is_object()) return false;
  const nlohmann::json& a = j["actor"];
  return a.contains("member") && !a.contains("mbox") && !a.contains("mbox_sha1sum") && !a.contains("openid") &&
         !a.contains("account");
}

}  // namespace

void SetIssuer(const auth::AccessGrant& g, ParsedStatement* p) {
  p->authority_json = IssuerAuthorityJson(auth::RoleName(g.principal().role), g.principal().subject);
  p->verified_issuer = IssuerMayAwardCredits(auth::RoleName(g.principal().role));
}

absl::Status CheckStatementWrite(const auth::AccessGrant& g, const ParsedStatement& p, absl::string_view field) {
  const auth::Principal& who = g.principal();
  switch (g.scope()) {
    case Scope::kAny:
      return absl::OkStatus();
    case Scope::kSelf: {
      const std::string& self = who.subject;
      if (p.learners.empty()) {
        return absl::PermissionDeniedError(absl::StrCat(field, ".actor: has no learner the caller may write for"));
      }
      // p.learners: the actor's own key first (when it has one), then the
      // members of a Group actor. Each is a learner the statement is filed
      // under, so each must be the caller.
      for (size_t i = 0; i < p.learners.size(); ++i) {
        if (!self.empty() && p.learners[i] == self) continue;
        bool is_member = i > 0 || IsGroupWithoutIdentifier(p);
        return absl::PermissionDeniedError(absl::StrCat(
            field, is_member ? ".actor.member" : ".actor", ": ", auth::RoleName(who.role), " ", who.subject,
            " may only record statements of learner \"", self, "\" alone, not of \"", p.learners[i], "\""));
      }
      return absl::OkStatus();
    }
    case Scope::kVenue: {
      if (p.verb != vocab::kAttended && p.verb != vocab::kRegistered) {
        return absl::PermissionDeniedError(
            absl::StrCat(field, ".verb: a kiosk records only attended and registered statements"));
      }
      if (StatementVenue(p) != who.venue) {
        return absl::PermissionDeniedError(
            absl::StrCat(field, ".context.extensions: the venue must be \"", who.venue, "\", the kiosk's own"));
      }
      // A kiosk session (who.learner set) lives in the kiosk's page, where
      // whoever stands at the kiosk can take it: it records for its own
      // learner alone (an Agent, not a Group naming others), as the web
      // gateway already required. The kiosk's own token, which the gateway
      // holds, may record for any learner at its venue.
      if (!who.learner.empty()) {
        if (p.learners.empty()) {
          return absl::PermissionDeniedError(absl::StrCat(field, ".actor: has no learner the caller may write for"));
        }
        for (size_t i = 0; i < p.learners.size(); ++i) {
          if (p.learners[i] == who.learner) continue;
          const bool is_member = i > 0 || IsGroupWithoutIdentifier(p);
          return absl::PermissionDeniedError(absl::StrCat(field, is_member ? ".actor.member" : ".actor",
                                                          ": a kiosk session records only for its learner \"",
                                                          who.learner, "\", not for \"", p.learners[i], "\""));
        }
      }
      return absl::OkStatus();
    }
    case Scope::kCourses:
      return auth::CheckCourse(g, vocab::CourseIdFromIri(p.activity), absl::StrCat(field, ".object.id"));
    default:
      return absl::PermissionDeniedError(absl::StrCat(field, ": not allowed"));
  }
}

absl::Status CheckVoidingWrite(const auth::AccessGrant& g, ParsedStatement* p, const RecordStore& store,
                               absl::string_view target_field) {
  if (!p->is_voiding) return absl::OkStatus();
  if (g.scope() == Scope::kAny) {
    p->voids_in_advance = true;  // may void anything, so also what is stored later
    return absl::OkStatus();
  }
  const auth::Principal& who = g.principal();
  VoidRight right;
  right.holder = absl::StrCat(auth::RoleName(who.role), " ", who.subject);
  switch (g.scope()) {
    case Scope::kSelf:
      right.learner = who.subject;
      break;
    case Scope::kCourses:
      right.by_courses = true;
      right.courses = who.courses;
      break;
    default:
      return absl::PermissionDeniedError(absl::StrCat(target_field, ": may not void statements"));
  }
  absl::StatusOr<StoredStatement> target = store.Get(p->void_target);
  if (target.ok()) {
    LL_RETURN_IF_ERROR(CheckVoidRight(right, target->record.learners, target->record.activity, target_field));
  } else if (!absl::IsNotFound(target.status())) {
    return target.status();
  }
  // The store applies the same rule to the target it finds when the voiding
  // statement is committed (one stored after this check included).
  p->void_right = std::move(right);
  return absl::OkStatus();
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

void KeepReadable(const auth::AccessGrant& g, StatementPage* page) {
  if (g.scope() == Scope::kAny) return;
  std::vector<StoredStatement>& v = page->statements;
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const StoredStatement& s) { return !CheckStatementRead(g, s.record, "statement").ok(); }),
          v.end());
}

absl::Status CheckReadGate(const ReadGate& gate, const auth::Principal& who, absl::string_view asked) {
  if (!gate) return absl::OkStatus();
  absl::Status current = gate();
  if (current.ok() || (who.role == auth::Role::kOperator && asked == "allow")) return absl::OkStatus();
  return current;
}

}  // namespace lifelong::records
