// Fuzz target: xAPI statement JSON parsing and validation
// (records::ParseStatement), the entry point of every statement written over
// gRPC or the xAPI HTTP API.
//
// Besides not crashing, a statement that validates must keep the promises of
// statement.h that the record store relies on:
//  - `text` with the store's members spliced in at `body_end` is JSON that the
//    readers (nlohmann) parse, with the statement's id;
//  - parsing `text` again accepts it, leaves it unchanged and yields the same
//    indexed fields (id, learners, verb, activity, registration, timestamp,
//    voiding and reference target);
//  - SameContent (idempotent writes) finds the stored form equal to `text`;
//  - what the readers see (the stored form through nlohmann) is itself a valid
//    statement with the same indexed fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "services/records/statement.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::records {
namespace {

// Finds JSON objects that name a member twice (after unescaping).
// What RecordStore::Record splices in before `body_end` (RecordStore::Prepare, record_store_write.cc).
std::string StoredForm(const ParsedStatement& p) {
  std::string suffix = R"(,"stored":"2026-11-28T02:00:00.000000Z")";
  if (!p.timestamp_us) suffix += R"(,"timestamp":"2026-11-28T02:00:00.000000Z")";
  suffix += R"(,"authority":{"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"lrs"}})";
  std::string out = p.text.substr(0, p.body_end);
  out += suffix;
  out += p.text.substr(p.body_end);
  return out;
}

void CheckParsed(const ParsedStatement& p) {
  FUZZ_CHECK(p.body_end < p.text.size());
  FUZZ_CHECK(p.text[p.body_end] == '}');
  FUZZ_CHECK(!p.learners.empty());
  for (const std::string& learner : p.learners) FUZZ_CHECK(!learner.empty());
  FUZZ_CHECK(IsAbsoluteIri(p.verb));
  FUZZ_CHECK(p.activity.empty() || IsAbsoluteIri(p.activity));
  if (p.is_voiding) {
    FUZZ_CHECK(p.ref_target.has_value());
    FUZZ_CHECK(*p.ref_target == p.void_target);
  }

  const std::string stored = StoredForm(p);
  const nlohmann::json j = nlohmann::json::parse(stored, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(j.contains("id") && j["id"].is_string());
  FUZZ_CHECK(j["id"].get<std::string>() == FormatUuid(p.id));
  FUZZ_CHECK(j.contains("version") && j["version"].is_string());
  FUZZ_CHECK(SameContent(stored, p.text, /*drop_timestamp=*/!p.timestamp_us.has_value()));

  // What the readers see (stored form, through nlohmann) validates too.
  absl::StatusOr<ParsedStatement> seen = ParseStatement(j.dump());
  FUZZ_CHECK(seen.ok());
  FUZZ_CHECK(seen->id == p.id);
  FUZZ_CHECK(seen->learners == p.learners);
  FUZZ_CHECK(seen->verb == p.verb);
  FUZZ_CHECK(seen->activity == p.activity);
  FUZZ_CHECK(seen->registration == p.registration);
  FUZZ_CHECK(!p.timestamp_us || seen->timestamp_us == p.timestamp_us);
  FUZZ_CHECK(seen->is_voiding == p.is_voiding);
  FUZZ_CHECK(seen->ref_target == p.ref_target);

  absl::StatusOr<ParsedStatement> again = ParseStatement(p.text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->text == p.text);
  FUZZ_CHECK(again->body_end == p.body_end);
  FUZZ_CHECK(!again->id_assigned);
  FUZZ_CHECK(again->id == p.id);
  FUZZ_CHECK(again->learners == p.learners);
  FUZZ_CHECK(again->verb == p.verb);
  FUZZ_CHECK(again->activity == p.activity);
  FUZZ_CHECK(again->registration == p.registration);
  FUZZ_CHECK(again->timestamp_us == p.timestamp_us);
  FUZZ_CHECK(again->is_voiding == p.is_voiding);
  FUZZ_CHECK(again->ref_target == p.ref_target);
}

}  // namespace
}  // namespace lifelong::records

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::records;
  const absl::string_view input = lifelong::fuzz::AsView(data, size);
  absl::StatusOr<ParsedStatement> parsed = ParseStatement(input);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CheckParsed(*parsed);
  return 0;
}
