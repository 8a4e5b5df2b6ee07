#include "services/domain/learner_key.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/utf8.h"
#include "services/domain/iri.h"
#include "services/domain/vocabulary.h"

namespace lifelong::domain {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The first code point of `s` that no identifier holds but that would make a
// key look like another (a spoof of "u1" in a staff screen, or a second
// learner for one person), or 0: invisible and formatting characters (soft
// hyphen, zero-width spaces and joiners, bidirectional overrides and
// isolates, word joiner, byte-order mark) and the full-width forms of ASCII
// (U+FF01..U+FF5E, "ｕ１"), and the ideographic space. Bytes that are not
// well-formed UTF-8 (utf8::Decode) are skipped one at a time, never read as
// a code point (CanonicalLearnerKey refuses them first).
char32_t LookAlikeCodePoint(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const utf8::Decoded d = utf8::Decode(s, i);
    if (!d.ok()) {
      ++i;
      continue;
    }
    i += d.size;
    const char32_t cp = d.code_point;
    if (cp == 0xAD || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF || cp == 0x3000 || (cp >= 0xFF01 && cp <= 0xFF5E)) {
      return cp;
    }
  }
  return 0;
}

}  // namespace

bool IsDistrictIdp(absl::string_view home_page) {
  return home_page == vocab::kDistrictIdp || home_page == absl::StrCat(vocab::kDistrictIdp, "/");
}

std::string AccountLearnerKey(absl::string_view home_page, absl::string_view name) {
  if (IsDistrictIdp(home_page)) {
    // A bare name only when it cannot be read as another key form.
    if (name.find(':') == absl::string_view::npos) return std::string(name);
    return absl::StrCat("account:", vocab::kDistrictIdp, "|", name);
  }
  return absl::StrCat("account:", home_page, "|", name);
}

absl::StatusOr<std::string> CanonicalLearnerKey(absl::string_view key, absl::string_view field) {
  if (key.empty()) return Invalid(field, "is required");
  if (key.size() > 1024) return Invalid(field, "longer than 1024 bytes");
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7F) return Invalid(field, "contains control characters");
  }
  // JSON and protobuf refuse such bytes before a key gets here; a key from
  // anywhere else (a command line, a file) is refused too, not stored.
  if (const size_t bad = utf8::FirstInvalidByte(key); bad != absl::string_view::npos) {
    return Invalid(field, absl::StrCat("is not UTF-8 (byte ", bad, ")"));
  }
  if (const char32_t cp = LookAlikeCodePoint(key); cp != 0) {
    return Invalid(field, absl::StrFormat("contains U+%04X, an invisible or full-width character (type the identifier "
                                          "in plain half-width characters)",
                                          static_cast<uint32_t>(cp)));
  }
  if (absl::StartsWith(key, "mailto:")) {
    if (key.find('@') == absl::string_view::npos) return Invalid(field, "mailto: key needs an address");
    return std::string(key);
  }
  if (absl::StartsWith(key, "sha1:")) {
    absl::string_view hex = key.substr(5);
    if (hex.size() != 40 || !IsHex(hex)) return Invalid(field, "sha1: key needs 40 hex digits");
    return absl::StrCat("sha1:", absl::AsciiStrToLower(hex));
  }
  if (absl::StartsWith(key, "openid:")) {
    if (!IsAbsoluteIri(key.substr(7))) return Invalid(field, "openid: key needs an absolute IRI");
    return std::string(key);
  }
  if (absl::StartsWith(key, "account:")) {
    // The home page is an IRI, which cannot contain '|': the first '|' ends it.
    absl::string_view rest = key.substr(8);
    size_t bar = rest.find('|');
    if (bar == absl::string_view::npos || bar + 1 == rest.size() || !IsAbsoluteIri(rest.substr(0, bar))) {
      return Invalid(field, "account: key must be account:<homePage IRI>|<name>");
    }
    absl::string_view home = rest.substr(0, bar);
    absl::string_view name = rest.substr(bar + 1);
    if (IsDistrictIdp(home)) return AccountLearnerKey(home, name);
    return std::string(key);
  }
  if (key.find(':') != absl::string_view::npos) {
    return Invalid(field,
                   "unknown learner key form (use a district account name, mailto:, sha1:, openid: or account:)");
  }
  return std::string(key);
}

}  // namespace lifelong::domain
