#include "services/xapi/multipart.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/domain/xapi_time.h"
#include "services/records/statement.h"

namespace lifelong::xapi {
namespace {

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

// Durations compared to hundredths of a second; store-owned members ignored.
void NormalizeForSignature(nlohmann::json& j) {
  j.erase("attachments");
  j.erase("stored");
  j.erase("authority");
  j.erase("version");
  for (nlohmann::json* s : {&j, j.contains("object") ? &j["object"] : nullptr}) {
    if (s == nullptr || !s->is_object() || !s->contains("result")) continue;
    nlohmann::json& r = (*s)["result"];
    if (r.is_object() && r.contains("duration") && r["duration"].is_string()) {
      absl::StatusOr<double> secs = domain::ParseIsoDurationSeconds(r["duration"].get<std::string>());
      if (secs.ok()) r["duration"] = std::floor(*secs * 100 + 1e-6);
    }
  }
}

bool VerifyWithCertificate(const nlohmann::json& header, absl::string_view signing_input, const std::string& signature,
                           const EVP_MD* md) {
  if (!header.contains("x5c") || !header["x5c"].is_array() || header["x5c"].empty()) return true;
  if (!header["x5c"][0].is_string()) return false;  // not a certificate
  std::string der;
  if (!absl::Base64Unescape(header["x5c"][0].get<std::string>(), &der)) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return false;
  EVP_PKEY* key = X509_get_pubkey(cert);
  bool ok = false;
  if (key != nullptr) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
  }
  X509_free(cert);
  return ok;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), sizeof(out)));
}

absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type) {
  for (absl::string_view param : absl::StrSplit(content_type, ';')) {
    param = absl::StripAsciiWhitespace(param);
    if (!absl::StartsWithIgnoreCase(param, "boundary=")) continue;
    absl::string_view b = param.substr(9);
    if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
    if (b.empty() || b.size() > 200) return Invalid("multipart: bad boundary");
    return std::string(b);
  }
  return Invalid("multipart: Content-Type has no boundary");
}

absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(absl::string_view boundary, absl::string_view body) {
  const std::string delim = absl::StrCat("--", boundary);
  size_t pos = body.find(delim);
  if (pos == absl::string_view::npos) return Invalid("multipart: no boundary line");
  std::vector<MultipartPart> parts;
  // Once no CRLF delimiter follows, none ever will (parts only move
  // forward): not searching again keeps the parse linear. (Searching the
  // rest of the body for one per part took k parts x n bytes: a 16 MiB body
  // of tiny LF-separated parts held a worker for many minutes.)
  bool crlf_delims_left = true;
  const std::string crlf_delim = absl::StrCat("\r\n", delim);
  const std::string lf_delim = absl::StrCat("\n", delim);
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Skip transport padding and the line break after the delimiter.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) == "\r\n") {
      pos += 2;
    } else if (body.substr(pos, 1) == "\n") {
      pos += 1;
    } else {
      return Invalid("multipart: malformed boundary line");
    }
    if (parts.size() >= kMaxMultipartParts) {
      return Invalid(absl::StrCat("multipart: more than ", kMaxMultipartParts, " parts"));
    }
    size_t next = crlf_delims_left ? body.find(crlf_delim, pos) : absl::string_view::npos;
    size_t eol = 2;
    if (next == absl::string_view::npos) {
      crlf_delims_left = false;
      next = body.find(lf_delim, pos);
      eol = 1;
    }
    if (next == absl::string_view::npos) return Invalid("multipart: missing closing boundary");
    absl::string_view part = body.substr(pos, next - pos);
    // The headers end at the first blank line, CRLF or LF: the body after
    // it may hold either sequence (an attachment's bytes), so the first of
    // the two is taken, not the first kind found anywhere in the part.
    size_t sep = part.find("\r\n\r\n");
    size_t sep_len = 4;
    size_t lf_sep = part.find("\n\n");
    if (lf_sep < sep) {
      sep = lf_sep;
      sep_len = 2;
    }
    if (sep == absl::string_view::npos) {
      if (absl::StartsWith(part, "\r\n")) {
        sep = 0;
        sep_len = 2;
      } else {
        return Invalid("multipart: part without a blank line after its headers");
      }
    }
    MultipartPart p;
    for (absl::string_view line : absl::StrSplit(part.substr(0, sep), absl::ByAnyChar("\r\n"), absl::SkipEmpty())) {
      size_t colon = line.find(':');
      if (colon == absl::string_view::npos) return Invalid("multipart: malformed part header");
      p.headers[absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    p.body = std::string(part.substr(sep + sep_len));
    parts.push_back(std::move(p));
    pos = next + eol;
  }
}

std::string BuildMultipart(const std::vector<MultipartPart>& parts, std::string* content_type) {
  std::mt19937_64 rng(std::random_device{}());
  std::string boundary = absl::StrCat("lifelong-", absl::Hex(rng()), absl::Hex(rng()));
  *content_type = absl::StrCat("multipart/mixed; boundary=", boundary);
  std::string out;
  for (const MultipartPart& p : parts) {
    absl::StrAppend(&out, "--", boundary, "\r\n");
    for (const auto& [k, v] : p.headers) absl::StrAppend(&out, k, ": ", v, "\r\n");
    absl::StrAppend(&out, "\r\n", p.body, "\r\n");
  }
  absl::StrAppend(&out, "--", boundary, "--\r\n");
  return out;
}

absl::Status CheckStatementSignature(absl::string_view jws, absl::string_view statement_json) {
  std::vector<absl::string_view> pieces = absl::StrSplit(absl::StripAsciiWhitespace(jws), '.');
  if (pieces.size() != 3) return Invalid("signature: not a JWS compact serialization");
  std::string header_text, payload_text, signature;
  if (!absl::WebSafeBase64Unescape(pieces[0], &header_text) || !absl::WebSafeBase64Unescape(pieces[1], &payload_text) ||
      !absl::WebSafeBase64Unescape(pieces[2], &signature)) {
    return Invalid("signature: JWS parts are not base64url");
  }
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string()) {
    return Invalid("signature: JWS header has no alg");
  }
  const std::string alg = header["alg"];
  const EVP_MD* md = alg == "RS256"   ? EVP_sha256()
                     : alg == "RS384" ? EVP_sha384()
                     : alg == "RS512" ? EVP_sha512()
                                      : nullptr;
  if (md == nullptr) return Invalid("signature: algorithm must be RS256, RS384 or RS512");
  nlohmann::json payload = nlohmann::json::parse(payload_text, nullptr, false);
  if (!payload.is_object()) return Invalid("signature: JWS payload is not a JSON object");
  nlohmann::json statement = nlohmann::json::parse(statement_json.begin(), statement_json.end(), nullptr, false);
  if (!statement.is_object()) return Invalid("signature: statement is not a JSON object");
  NormalizeForSignature(payload);
  NormalizeForSignature(statement);
  if (payload.contains("id") && !statement.contains("id")) statement["id"] = payload["id"];
  if (payload != statement) return Invalid("signature: JWS payload does not match the statement");
  std::string signing_input = absl::StrCat(pieces[0], ".", pieces[1]);
  if (!VerifyWithCertificate(header, signing_input, signature, md)) {
    return Invalid("signature: does not verify with the certificate in x5c");
  }
  return absl::OkStatus();
}

}  // namespace lifelong::xapi
