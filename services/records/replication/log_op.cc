#include "services/records/replication/log_op.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/status_macros.h"
#include "services/records/key_codec.h"

namespace lifelong::records::replication {
namespace {

constexpr uint8_t kIdAssigned = 0x01, kHasRegistration = 0x02, kHasTimestamp = 0x04, kIsVoiding = 0x08,
                  kHasRefTarget = 0x10, kVerifiedIssuer = 0x20, kHasVoidRight = 0x40, kVoidsInAdvance = 0x80;
constexpr char kKioskPassOf[] = "kiosk_pass_of/";
// Learner cards (services/records/learner_cards.h): "learner_card_of/" |
// learner key -> card number, and "learner_card/" | number -> the card
// record, whose learner key follows 74 fixed bytes (format 1 | u32
// iterations | 16 salt | 32 PIN hash | u64 bound | u32 failures | u64
// locked_until | u8 flags; learner_cards.cc, kFixedBytes).
constexpr char kLearnerCardOf[] = "learner_card_of/";
constexpr char kLearnerCard[] = "learner_card/";
constexpr size_t kCardFixedBytes = 1 + 4 + 16 + 32 + 8 + 4 + 8 + 1;
constexpr uint8_t kCardFormat = 1;

// The learner a meta edit names (a kiosk pass or learner card of theirs);
// "" when none.
absl::string_view LearnerOfMetaEdit(absl::string_view key, const std::optional<std::string>& value) {
  if (absl::StartsWith(key, kKioskPassOf)) return key.substr(sizeof(kKioskPassOf) - 1);
  if (absl::StartsWith(key, kLearnerCardOf)) return key.substr(sizeof(kLearnerCardOf) - 1);
  if (absl::StartsWith(key, kLearnerCard) && value && value->size() > kCardFixedBytes &&
      static_cast<uint8_t>((*value)[0]) == kCardFormat) {
    return absl::string_view(*value).substr(kCardFixedBytes);
  }
  return {};
}

void PutStr(std::string* out, absl::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}
void PutUuid(std::string* out, const Uuid& u) { out->append(reinterpret_cast<const char*>(u.data()), 16); }

// Reads fields off the front of a message; every read names its field.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  absl::Status Need(size_t n, absl::string_view field) {
    if (in_.size() < n) {
      return absl::DataLossError(
          absl::StrCat("log message: ", field, ": truncated (", in_.size(), " bytes left, ", n, " needed)"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint8_t> U8(absl::string_view field) {
    LL_RETURN_IF_ERROR(Need(1, field));
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  absl::StatusOr<uint32_t> U32(absl::string_view field) {
    LL_RETURN_IF_ERROR(Need(4, field));
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return v;
  }
  absl::StatusOr<uint64_t> U64(absl::string_view field) {
    LL_RETURN_IF_ERROR(Need(8, field));
    uint64_t v = GetU64(in_.data());
    in_.remove_prefix(8);
    return v;
  }
  absl::StatusOr<std::string> Str(absl::string_view field) {
    absl::StatusOr<uint32_t> n = U32(field);
    if (!n.ok()) return n.status();
    LL_RETURN_IF_ERROR(Need(*n, field));
    std::string s(in_.substr(0, *n));
    in_.remove_prefix(*n);
    return s;
  }
  absl::StatusOr<Uuid> Id(absl::string_view field) {
    LL_RETURN_IF_ERROR(Need(16, field));
    Uuid u;
    std::memcpy(u.data(), in_.data(), 16);
    in_.remove_prefix(16);
    return u;
  }
  size_t left() const { return in_.size(); }

 private:
  absl::string_view in_;
};

#define ASSIGN_(lhs, expr)            \
  do {                                \
    auto v_ = (expr);                 \
    if (!v_.ok()) return v_.status(); \
    lhs = std::move(*v_);             \
  } while (0)

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace

std::string EncodeLogOp(const LogOp& op) {
  std::string out;
  out.push_back(static_cast<char>(kLogOpFormat));
  out.push_back(static_cast<char>(op.kind));
  PutU64(&out, static_cast<uint64_t>(op.now_us));
  switch (op.kind) {
    case LogOpKind::kRecord:
      PutU32(&out, static_cast<uint32_t>(op.statements.size()));
      for (const ParsedStatement& p : op.statements) {
        PutUuid(&out, p.id);
        uint8_t flags = (p.id_assigned ? kIdAssigned : 0) | (p.registration ? kHasRegistration : 0) |
                        (p.timestamp_us ? kHasTimestamp : 0) | (p.is_voiding ? kIsVoiding : 0) |
                        (p.ref_target ? kHasRefTarget : 0) | (p.verified_issuer ? kVerifiedIssuer : 0) |
                        (p.is_voiding && p.void_right ? kHasVoidRight : 0) |
                        (p.is_voiding && p.voids_in_advance && !p.void_right ? kVoidsInAdvance : 0);
        out.push_back(static_cast<char>(flags));
        PutStr(&out, p.text);
        PutU32(&out, static_cast<uint32_t>(p.body_end));
        PutU32(&out, static_cast<uint32_t>(p.learners.size()));
        for (const std::string& l : p.learners) PutStr(&out, l);
        PutStr(&out, p.verb);
        PutStr(&out, p.activity);
        if (p.registration) PutUuid(&out, *p.registration);
        if (p.timestamp_us) PutU64(&out, static_cast<uint64_t>(*p.timestamp_us));
        if (p.is_voiding) PutUuid(&out, p.void_target);
        if (p.is_voiding && p.void_right) {
          const VoidRight& v = *p.void_right;
          out.push_back(v.by_courses ? 1 : 0);
          PutStr(&out, v.holder);
          PutStr(&out, v.learner);
          PutU32(&out, static_cast<uint32_t>(v.courses.size()));
          for (const std::string& c : v.courses) PutStr(&out, c);
        }
        if (p.ref_target) PutUuid(&out, *p.ref_target);
        PutStr(&out, p.authority_json);
      }
      break;
    case LogOpKind::kErase:
      PutStr(&out, op.learner);
      break;
    case LogOpKind::kMeta:
      PutU32(&out, static_cast<uint32_t>(op.meta.size()));
      for (const auto& [key, value] : op.meta) {
        PutStr(&out, key);
        out.push_back(value ? 1 : 0);
        if (value) PutStr(&out, *value);
      }
      break;
    case LogOpKind::kRestore:
      PutStr(&out, op.learner);
      PutU32(&out, static_cast<uint32_t>(op.restored.size()));
      for (const auto& [id, record] : op.restored) {
        PutUuid(&out, id);
        PutStr(&out, record);
      }
      PutU64(&out, op.built_at);
      break;
    case LogOpKind::kDocument: {
      const xapi::DocWrite& d = op.document;
      out.push_back(static_cast<char>(d.action));
      out.push_back(static_cast<char>(d.key.kind));
      for (const std::string* f :
           {&d.key.activity, &d.key.learner, &d.key.registration, &d.key.id, &d.content_type, &d.content}) {
        PutStr(&out, *f);
      }
      uint8_t flags = (d.cond.if_match ? 0x01 : 0) | (d.cond.if_none_match_star ? 0x02 : 0) |
                      (d.cond.require_condition_if_exists ? 0x04 : 0) |
                      (d.cond.missing_condition_is_invalid ? 0x08 : 0);
      out.push_back(static_cast<char>(flags));
      if (d.cond.if_match) PutStr(&out, *d.cond.if_match);
      break;
    }
    case LogOpKind::kAudit:
      PutU64(&out, static_cast<uint64_t>(op.audit.time_us));
      for (const std::string* s : {&op.audit.subject, &op.audit.role, &op.audit.learner, &op.audit.operation,
                                   &op.audit.outcome, &op.audit.detail}) {
        PutStr(&out, *s);
      }
      break;
  }
  return out;
}

absl::StatusOr<LogOp> DecodeLogOp(absl::string_view bytes) {
  Reader r(bytes);
  LogOp op;
  uint8_t format = 0, kind = 0;
  ASSIGN_(format, r.U8("format"));
  if (format != kLogOpFormat) {
    return absl::DataLossError(absl::StrCat("log message: format: ", int{format}, " is not ", int{kLogOpFormat}));
  }
  ASSIGN_(kind, r.U8("kind"));
  uint64_t now = 0;
  ASSIGN_(now, r.U64("now_us"));
  op.now_us = static_cast<int64_t>(now);
  switch (kind) {
    case static_cast<uint8_t>(LogOpKind::kRecord): {
      op.kind = LogOpKind::kRecord;
      uint32_t n = 0;
      ASSIGN_(n, r.U32("statements"));
      // Each statement takes at least 16 + 1 + 4 + 4 + 4 + 4 + 4 + 4 bytes.
      if (n == 0 || n > r.left() / 41) {
        return absl::DataLossError(absl::StrCat("log message: statements: count ", n, " does not fit the message"));
      }
      op.statements.resize(n);
      for (ParsedStatement& p : op.statements) {
        ASSIGN_(p.id, r.Id("statement.id"));
        uint8_t flags = 0;
        ASSIGN_(flags, r.U8("statement.flags"));
        // Unknown bits stop an older node's applier (a newer node wrote them):
        // a node from before 2026-12-07 stops at kVoidsInAdvance rather than
        // store the target of such a voiding statement unvoided. All eight
        // bits are taken; another flag needs a new format.
        if ((flags & kHasVoidRight) && !(flags & kIsVoiding)) {
          return absl::DataLossError("log message: statement.flags: a void right without a voiding statement");
        }
        if ((flags & kVoidsInAdvance) && (!(flags & kIsVoiding) || (flags & kHasVoidRight))) {
          return absl::DataLossError(
              "log message: statement.flags: voids in advance without a voiding statement, or with a void right");
        }
        p.voids_in_advance = flags & kVoidsInAdvance;
        p.id_assigned = flags & kIdAssigned;
        p.verified_issuer = flags & kVerifiedIssuer;
        ASSIGN_(p.text, r.Str("statement.text"));
        uint32_t body_end = 0;
        ASSIGN_(body_end, r.U32("statement.body_end"));
        if (body_end > p.text.size()) {
          return absl::DataLossError(absl::StrCat("log message: statement.body_end: ", body_end, " is past the text (",
                                                  p.text.size(), " bytes)"));
        }
        p.body_end = body_end;
        uint32_t m = 0;
        ASSIGN_(m, r.U32("statement.learners"));
        if (m > r.left() / 4) return absl::DataLossError("log message: statement.learners: count does not fit");
        p.learners.resize(m);
        for (std::string& l : p.learners) ASSIGN_(l, r.Str("statement.learner"));
        ASSIGN_(p.verb, r.Str("statement.verb"));
        ASSIGN_(p.activity, r.Str("statement.activity"));
        if (flags & kHasRegistration) {
          Uuid u;
          ASSIGN_(u, r.Id("statement.registration"));
          p.registration = u;
        }
        if (flags & kHasTimestamp) {
          uint64_t t = 0;
          ASSIGN_(t, r.U64("statement.timestamp_us"));
          p.timestamp_us = static_cast<int64_t>(t);
        }
        if (flags & kIsVoiding) {
          p.is_voiding = true;
          ASSIGN_(p.void_target, r.Id("statement.void_target"));
        }
        if (flags & kHasVoidRight) {
          VoidRight v;
          uint8_t by_courses = 0;
          ASSIGN_(by_courses, r.U8("statement.void_right.by_courses"));
          if (by_courses > 1) return absl::DataLossError("log message: statement.void_right.by_courses: not 0 or 1");
          v.by_courses = by_courses == 1;
          ASSIGN_(v.holder, r.Str("statement.void_right.holder"));
          ASSIGN_(v.learner, r.Str("statement.void_right.learner"));
          uint32_t courses = 0;
          ASSIGN_(courses, r.U32("statement.void_right.courses"));
          if (courses > r.left() / 4) {
            return absl::DataLossError("log message: statement.void_right.courses: count does not fit");
          }
          v.courses.resize(courses);
          for (std::string& c : v.courses) ASSIGN_(c, r.Str("statement.void_right.course"));
          p.void_right = std::move(v);
        }
        if (flags & kHasRefTarget) {
          Uuid u;
          ASSIGN_(u, r.Id("statement.ref_target"));
          p.ref_target = u;
        }
        ASSIGN_(p.authority_json, r.Str("statement.authority_json"));
        // Not in the message: a function of the text, the same on every
        // replica (and for messages written before schema 3).
        absl::StatusOr<std::vector<std::string>> mentioned = MentionedLearners(p.text);
        if (!mentioned.ok()) return absl::DataLossError("log message: statement.text: malformed JSON");
        p.mentioned = *std::move(mentioned);
      }
      break;
    }
    case static_cast<uint8_t>(LogOpKind::kErase):
      op.kind = LogOpKind::kErase;
      ASSIGN_(op.learner, r.Str("learner"));
      if (op.learner.empty()) return absl::DataLossError("log message: learner: empty");
      break;
    case static_cast<uint8_t>(LogOpKind::kMeta): {
      op.kind = LogOpKind::kMeta;
      uint32_t n = 0;
      ASSIGN_(n, r.U32("meta"));
      if (n > r.left() / 5) return absl::DataLossError("log message: meta: count does not fit");
      op.meta.resize(n);
      for (auto& [key, value] : op.meta) {
        ASSIGN_(key, r.Str("meta.key"));
        uint8_t has = 0;
        ASSIGN_(has, r.U8("meta.has_value"));
        if (has > 1) return absl::DataLossError("log message: meta.has_value: not 0 or 1");
        if (has) {
          std::string v;
          ASSIGN_(v, r.Str("meta.value"));
          value = std::move(v);
        }
      }
      break;
    }
    case static_cast<uint8_t>(LogOpKind::kAudit): {
      op.kind = LogOpKind::kAudit;
      uint64_t t = 0;
      ASSIGN_(t, r.U64("audit.time_us"));
      op.audit.time_us = static_cast<int64_t>(t);
      ASSIGN_(op.audit.subject, r.Str("audit.subject"));
      ASSIGN_(op.audit.role, r.Str("audit.role"));
      ASSIGN_(op.audit.learner, r.Str("audit.learner"));
      ASSIGN_(op.audit.operation, r.Str("audit.operation"));
      ASSIGN_(op.audit.outcome, r.Str("audit.outcome"));
      ASSIGN_(op.audit.detail, r.Str("audit.detail"));
      break;
    }
    case static_cast<uint8_t>(LogOpKind::kRestore): {
      op.kind = LogOpKind::kRestore;
      ASSIGN_(op.learner, r.Str("learner"));
      uint32_t n = 0;
      ASSIGN_(n, r.U32("restored"));
      if (n > r.left() / 20) return absl::DataLossError("log message: restored: count does not fit");
      op.restored.resize(n);
      for (auto& [id, record] : op.restored) {
        ASSIGN_(id, r.Id("restored.id"));
        ASSIGN_(record, r.Str("restored.record"));
      }
      // Messages from before built_at end here.
      if (r.left() != 0) ASSIGN_(op.built_at, r.U64("built_at"));
      break;
    }
    case static_cast<uint8_t>(LogOpKind::kDocument): {
      op.kind = LogOpKind::kDocument;
      xapi::DocWrite& d = op.document;
      d.now_us = op.now_us;
      uint8_t action = 0, doc_kind = 0, flags = 0;
      ASSIGN_(action, r.U8("document.action"));
      if (action < 1 || action > 3) return absl::DataLossError("log message: document.action: unknown action");
      d.action = static_cast<xapi::DocAction>(action);
      ASSIGN_(doc_kind, r.U8("document.kind"));
      if (doc_kind < 1 || doc_kind > static_cast<uint8_t>(xapi::DocKind::kLearnerAttachment))
        return absl::DataLossError("log message: document.kind: unknown kind");
      d.key.kind = static_cast<xapi::DocKind>(doc_kind);
      ASSIGN_(d.key.activity, r.Str("document.activity"));
      ASSIGN_(d.key.learner, r.Str("document.learner"));
      ASSIGN_(d.key.registration, r.Str("document.registration"));
      ASSIGN_(d.key.id, r.Str("document.id"));
      ASSIGN_(d.content_type, r.Str("document.content_type"));
      ASSIGN_(d.content, r.Str("document.content"));
      ASSIGN_(flags, r.U8("document.condition"));
      if (flags & ~0x0f) return absl::DataLossError("log message: document.condition: unknown bits");
      d.cond.if_none_match_star = flags & 0x02;
      d.cond.require_condition_if_exists = flags & 0x04;
      d.cond.missing_condition_is_invalid = flags & 0x08;
      if (flags & 0x01) {
        std::string m;
        ASSIGN_(m, r.Str("document.if_match"));
        d.cond.if_match = std::move(m);
      }
      break;
    }
    default:
      return absl::DataLossError(absl::StrCat("log message: kind: unknown kind ", int{kind}));
  }
  if (r.left() != 0) {
    return absl::DataLossError(absl::StrCat("log message: ", r.left(), " bytes after the operation"));
  }
  return op;
}

std::string LearnerSubject(absl::string_view learner, absl::string_view prefix) {
  return absl::StrCat(prefix, ".stmt.", Sha256Hex(learner).substr(0, 16));
}

std::string SubjectOf(const LogOp& op, absl::string_view prefix) {
  switch (op.kind) {
    case LogOpKind::kRecord: {
      const std::string* only = nullptr;
      for (const ParsedStatement& p : op.statements) {
        // A statement that names other learners (its mentions) is theirs
        // too: their erasure scrubs it from the log (SharedMarks).
        if (p.learners.size() != 1 || !p.mentioned.empty() || (only != nullptr && *only != p.learners[0])) {
          return absl::StrCat(prefix, ".shared");
        }
        only = &p.learners[0];
      }
      if (only == nullptr) return absl::StrCat(prefix, ".shared");
      return LearnerSubject(*only, prefix);
    }
    case LogOpKind::kErase:
      return absl::StrCat(prefix, ".erase");
    case LogOpKind::kMeta:
      // A kiosk pass or a learner card names its learner (a card record
      // also holds the PIN's hash): it goes with their statements, so that
      // their erasure takes it out of the log.
      for (const auto& [key, value] : op.meta) {
        if (absl::string_view learner = LearnerOfMetaEdit(key, value); !learner.empty()) {
          return LearnerSubject(learner, prefix);
        }
      }
      return absl::StrCat(prefix, ".meta");
    case LogOpKind::kAudit:
      return absl::StrCat(prefix, ".audit");
    case LogOpKind::kRestore:
      return absl::StrCat(prefix, ".shared");
    case LogOpKind::kDocument:
      if (!op.document.key.learner.empty()) return LearnerSubject(op.document.key.learner, prefix);
      return absl::StrCat(prefix, ".documents");
  }
  return absl::StrCat(prefix, ".shared");
}

constexpr char kSharedMark[] = "replication/shared_of/";

std::string SharedMarkPrefix(absl::string_view learner) {
  std::string key = kSharedMark;
  PutU16(&key, static_cast<uint16_t>(learner.size()));
  key.append(learner.data(), learner.size());
  return key;
}

std::string SharedMarkKey(absl::string_view learner, uint64_t seq) {
  std::string key = SharedMarkPrefix(learner);
  PutU64(&key, seq);
  return key;
}

absl::StatusOr<uint64_t> SeqOfSharedMark(absl::string_view key, absl::string_view prefix) {
  if (key.size() != prefix.size() + 8 || !absl::StartsWith(key, prefix)) {
    return absl::DataLossError("replication/shared_of key: malformed");
  }
  return GetU64(key.data() + prefix.size());
}

std::vector<std::string> SharedMarks(const LogOp& op, uint64_t seq) {
  std::vector<std::string> learners;
  if (op.kind == LogOpKind::kRecord) {
    if (!absl::EndsWith(SubjectOf(op, "x"), ".shared")) return {};
    for (const ParsedStatement& p : op.statements) {
      learners.insert(learners.end(), p.learners.begin(), p.learners.end());
      learners.insert(learners.end(), p.mentioned.begin(), p.mentioned.end());
    }
  } else if (op.kind == LogOpKind::kRestore) {
    for (const auto& [id, record] : op.restored) {
      absl::StatusOr<StatementRecord> r = DecodeStatementRecord(record);
      if (!r.ok()) continue;
      learners.insert(learners.end(), r->learners.begin(), r->learners.end());
      if (r->Has(RecordFlag::kNamesOthers)) {
        absl::StatusOr<std::vector<std::string>> mentioned = MentionedLearners(r->json);
        if (mentioned.ok()) learners.insert(learners.end(), mentioned->begin(), mentioned->end());
      }
    }
  }
  std::sort(learners.begin(), learners.end());
  learners.erase(std::unique(learners.begin(), learners.end()), learners.end());
  std::vector<std::string> keys;
  for (const std::string& l : learners) keys.push_back(SharedMarkKey(l, seq));
  return keys;
}

std::string RecordMessageId(const LogOp& op) {
  std::string material;
  for (const ParsedStatement& p : op.statements) {
    PutUuid(&material, p.id);
    PutStr(&material, p.text);
    PutStr(&material, p.authority_json);
  }
  return Sha256Hex(material);
}

absl::Status LogCursor::Next(uint64_t stream_seq, uint64_t consumer_seq) {
  // consumer_seq 1: a (re)created consumer, which starts after the last
  // stream sequence it delivered.
  if (consumer_ != 0 && consumer_seq != 1 && consumer_seq != consumer_ + 1) {
    return absl::FailedPreconditionError(absl::StrCat("log delivery gap: consumer sequence ", consumer_seq, " after ",
                                                      consumer_, " (stream sequence ", stream_seq, ", applied ",
                                                      applied_, ")"));
  }
  consumer_ = consumer_seq;
  if (stream_seq <= applied_) {
    return absl::AlreadyExistsError(
        absl::StrCat("log operation ", stream_seq, " is at or before the applied position ", applied_));
  }
  // The sequences jumped over must be gone from the log (erased, deleted).
  for (uint64_t q = applied_ + 1; q < stream_seq; ++q) {
    absl::StatusOr<bool> held = still_in_log_ ? still_in_log_(q) : absl::StatusOr<bool>(true);
    if (!held.ok()) {
      return absl::UnavailableError(absl::StrCat("log delivery: cannot tell whether operation ", q,
                                                 " is still in the log: ", held.status().message()));
    }
    if (*held) {
      return absl::FailedPreconditionError(absl::StrCat("log delivery gap: operation ", q,
                                                        " is in the log but was not delivered (next delivered ",
                                                        stream_seq, ", applied ", applied_, ")"));
    }
  }
  return absl::OkStatus();
}

std::vector<LogOp> SplitRestore(const LogOp& restore, int64_t max_bytes) {
  LogOp empty = restore;
  empty.restored.clear();
  const size_t base = EncodeLogOp(empty).size();
  std::vector<LogOp> parts;
  LogOp part = empty;
  size_t bytes = base;
  for (const auto& [id, record] : restore.restored) {
    const size_t add = 16 + 4 + record.size();  // id, u32 length, record (EncodeLogOp)
    if (max_bytes > 0 && !part.restored.empty() && bytes + add > static_cast<size_t>(max_bytes)) {
      parts.push_back(std::move(part));
      part = empty;
      bytes = base;
    }
    part.restored.emplace_back(id, record);
    bytes += add;
  }
  parts.push_back(std::move(part));
  return parts;
}

}  // namespace lifelong::records::replication
