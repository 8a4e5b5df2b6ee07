#include "services/records/issuer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/domain/vocabulary.h"

namespace lifelong::records {
namespace {

std::string RolesHomePagePrefix() { return absl::StrCat(vocab::kDistrictIdp, "/roles/"); }

}  // namespace

std::string Issuer::Label() const { return role.empty() ? subject : absl::StrCat(role, ":", subject); }

std::string IssuerAuthorityJson(absl::string_view role, absl::string_view subject) {
  // Every statement a caller writes gets the same authority: the last one
  // built on this thread is kept (building the JSON was 7% of a durable
  // RecordStatement's CPU; docs/benchmarks.md).
  thread_local std::string last_role, last_subject, last_json;
  if (!last_json.empty() && role == last_role && subject == last_subject) return last_json;
  nlohmann::json a = {
      {"objectType", "Agent"},
      {"account", {{"homePage", absl::StrCat(RolesHomePagePrefix(), role)}, {"name", std::string(subject)}}}};
  last_json = a.dump();
  last_role = std::string(role);
  last_subject = std::string(subject);
  return last_json;
}

Issuer IssuerOfStatement(const nlohmann::json& statement) {
  Issuer out;
  if (!statement.is_object()) return out;
  auto a = statement.find("authority");
  if (a == statement.end() || !a->is_object()) return out;
  auto account = a->find("account");
  if (account == a->end() || !account->is_object()) return out;
  auto home = account->find("homePage");
  auto name = account->find("name");
  if (name != account->end() && name->is_string()) out.subject = name->get<std::string>();
  if (home == account->end() || !home->is_string()) return out;
  std::string h = home->get<std::string>();
  const std::string prefix = RolesHomePagePrefix();
  if (absl::StartsWith(h, prefix) && h.size() > prefix.size()) out.role = h.substr(prefix.size());
  return out;
}

bool IssuerMayAwardCredits(absl::string_view role) {
  return role == "operator" || role == "loader" || role == "teacher";
}

}  // namespace lifelong::records
