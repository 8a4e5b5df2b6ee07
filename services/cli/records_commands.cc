// `lifelong` commands of the record service: record, history, transcript, import, export, erase.
#include "services/cli/commands.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
#include "services/cli/args.h"
#include "services/cli/exit_codes.h"
#include "services/cli/import_reader.h"
#include "services/cli/progress.h"
#include "services/cli/statement_builder.h"
#include "services/cli/text_table.h"
#include "services/common/grpc_status.h"
#include "services/common/grpc_tls.h"
#include "services/common/health_client.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"
#include "services/records/statement_access.h"

namespace lifelong::cli {

absl::Status CmdRecord(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty()) return Usage("record takes no positional arguments");
  std::string json;
  if (a.Has("statement")) {
    auto text = ReadTextArg("statement", a.Get("statement"));
    if (!text.ok()) return text.status();
    auto st = StatementFromJsonLine(*text, "completed");
    if (!st.ok()) return Usage(absl::StrCat("--statement: ", st.status().message()));
    json = *st;
  } else {
    StatementFields f;
    f.id = a.Get("id");
    f.learner = a.Get("learner");
    f.verb = a.Get("verb");
    f.course = a.Get("course");
    if (f.learner.empty() || f.verb.empty() || f.course.empty()) {
      return Usage("record needs --learner, --verb and --course (or --statement)");
    }
    f.title = a.Get("title");
    f.timestamp = a.Get("timestamp");
    f.mode = a.Get("mode");
    f.xuequ = a.Get("xuequ");
    f.jiedao = a.Get("jiedao");
    f.venue = a.Get("venue");
    f.platform = a.Get("platform", "app");
    f.registration = a.Get("registration");
    for (const char* n : {"credits", "hours", "score"}) {
      if (!a.Has(n)) continue;
      auto d = ParseDoubleFlag(n, a.Get(n));
      if (!d.ok()) return AsUsage(d.status());
      (std::string(n) == "credits" ? f.credits : std::string(n) == "hours" ? f.hours : f.score) = *d;
    }
    if (!a.Has("timestamp")) {
      f.timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3S+08:00", absl::Now(), Beijing());
    }
    auto st = BuildStatementJson(f);
    if (!st.ok()) return Usage(st.status().message());
    json = *st;
  }
  auto stub = env.Records();
  v1::RecordStatementRequest req;
  req.set_statement_json(json);
  if (env.json()) req.set_view(v1::STATEMENT_VIEW_FULL);
  v1::Statement resp;
  grpc::Status g = stub->RecordStatement(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << resp.json() << "\n";
  } else {
    env.out() << "recorded " << resp.id() << ": " << resp.learner() << " " << VerbShortName(resp.verb()) << " "
              << CourseLabel(resp.activity()) << " at " << FormatTs(resp.timestamp()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdHistory(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong history LEARNER [--verb V] [--course C] [--limit N]");
  int64_t limit = 20;
  if (a.Has("limit")) {
    auto n = ParseIntFlag("limit", a.Get("limit"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1) return Usage("--limit: must be at least 1");
    limit = *n;
  }
  v1::ListStatementsRequest req;
  req.set_learner(a.positional[0]);
  if (a.Has("verb")) {
    auto iri = VerbIri(a.Get("verb"));
    if (!iri.ok()) return Usage(absl::StrCat("--", iri.status().message()));
    req.set_verb(*iri);
  }
  if (a.Has("course")) {
    const std::string c = a.Get("course");
    req.set_activity(absl::StrContains(c, "://") ? c : vocab::CourseIri(c));
  }
  req.set_ascending(a.GetBool("ascending"));
  auto stub = env.Records();
  TextTable table({"TIME", "VERB", "COURSE", "TITLE", "MODE", "XUEQU", "PLATFORM"});
  table.SetMaxWidth(3, 36);
  int64_t shown = 0;
  std::string token;
  do {
    req.set_page_size(static_cast<int32_t>(std::min<int64_t>(1000, limit - shown)));
    req.set_page_token(token);
    v1::ListStatementsResponse resp;
    grpc::Status g = stub->ListStatements(env.Call().get(), req, &resp);
    if (!g.ok()) return env.RpcError(Service::kRecords, g);
    for (const v1::Statement& s : resp.statements()) {
      if (shown >= limit) break;
      ++shown;
      if (env.json()) {
        env.out() << s.json() << "\n";
        continue;
      }
      Json j = Json::parse(s.json(), nullptr, false);
      std::string platform;
      if (!j.is_discarded() && j.contains("context") && j["context"].contains("platform") &&
          j["context"]["platform"].is_string()) {
        platform = j["context"]["platform"];
      }
      table.AddRow({FormatTs(s.timestamp()), VerbShortName(s.verb()), CourseLabel(s.activity()),
                    StatementTitle(s.json()), StatementExt(s.json(), vocab::kExtMode),
                    StatementExt(s.json(), vocab::kExtXuequ), platform});
    }
    token = resp.next_page_token();
  } while (!token.empty() && shown < limit);
  if (!env.json()) {
    env.out() << table.Render();
    env.out() << shown << " statement(s) of " << a.positional[0] << (token.empty() ? "" : " (more: raise --limit)")
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdTranscript(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong transcript LEARNER");
  v1::GetTranscriptRequest req;
  req.set_learner(a.positional[0]);
  v1::Transcript t;
  grpc::Status g = env.Records()->GetTranscript(env.Call().get(), req, &t);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << ProtoJson(t) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"DATE", "COURSE", "TITLE", "OUTCOME", "HOURS", "CREDITS", "MODE", "XUEQU", "ISSUER", "VERIFIED"});
  table.AlignRight(4);
  table.AlignRight(5);
  table.SetMaxWidth(2, 36);
  for (const auto& e : t.entries()) {
    // Unverified (self-reported) entries earn nothing; show what they claimed.
    std::string verified =
        e.verified() ? "yes"
                     : absl::StrCat("no (claimed ", Num(e.claimed_hours()), "h/", Num(e.claimed_credits()), ")");
    table.AddRow({FormatTs(e.achieved(), true), CourseLabel(e.activity()), e.title(), e.outcome(), Num(e.hours()),
                  Num(e.credits()), e.mode(), e.xuequ(), e.issuer(), verified});
  }
  env.out() << "Transcript of " << t.learner() << "\n" << table.Render();
  env.out() << "total: " << t.courses() << " course(s), " << Num(t.hours()) << " hours, " << Num(t.credits())
            << " credits";
  if (t.unverified_courses() > 0) {
    env.out() << " (" << t.unverified_courses() << " self-reported course(s) earn no hours or credits)";
  }
  env.out() << "\n";
  auto totals = [&](const char* label, const auto& list) {
    if (list.empty()) return;
    std::vector<std::string> parts;
    for (const auto& x : list) {
      parts.push_back(absl::StrCat(x.key(), " ", x.courses(), "/", Num(x.hours()), "h/", Num(x.credits())));
    }
    env.out() << label << ": " << absl::StrJoin(parts, ", ") << "\n";
  };
  totals("by mode (courses/hours/credits)", t.by_mode());
  totals("by xuequ (courses/hours/credits)", t.by_xuequ());
  return absl::OkStatus();
}

// Checkpoint file of an import: "<lines done> <bytes> sha256:<hex>\n"
// (physical input lines whose statements are all stored, then
// InputPrefix::Mark's fingerprint of those lines). Files written before
// 2026-12-04 hold the count alone, and those written before 2026-12-07 a
// fingerprint of the first 64 KiB ("<bytes> <uuid>"); their input is taken
// on trust.
struct Checkpoint {
  int64_t lines = 0;
  std::string fingerprint;  // "<bytes> <uuid>"; empty: an old checkpoint, or none
};
Checkpoint ReadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  Checkpoint c;
  if (!(in >> c.lines)) return Checkpoint{};
  std::string bytes, uuid;
  if (in >> bytes >> uuid) c.fingerprint = absl::StrCat(bytes, " ", uuid);
  return c;
}

// One RecordStatements call of an import: its place in the input.
struct ImportBatch {
  int64_t seq = 0;  // 0, 1, 2, ... in input order
  // Input line of its last statement as read: not `lines.back()` once rows
  // are left out (ImportConflict), which may leave `lines` empty.
  int64_t last_line = 0;
  size_t bytes = 0;  // of its statements' JSON
  // Starts with a voiding statement: sent only once every earlier batch is
  // stored. Batches are otherwise sent in parallel and stored in any order,
  // and a voiding statement stored before its target voids it only when its
  // issuer may void anything (docs/records.md "Voiding"): an export
  // re-imported with a narrower token brought voided credits back.
  bool after_earlier = false;
  std::vector<int64_t> lines;  // input line of each statement
  v1::RecordStatementsRequest request;
};

// A row whose statement id is already stored with other content (the
// server's ALREADY_EXISTS "statement_json[<i>].id: <id> already exists with
// different content"): left out of its batch, which is sent again without it,
// so that one row (another issuer's statement under a predictable id, say)
// cannot keep every other row of its batch out, at every run.
struct ImportConflict {
  int64_t line = 0;
  std::string message;
};

// The batch index of the statement a server message names
// ("statement_json[<i>]...": the batch's refusals and its ALREADY_EXISTS),
// or -1 when it names none of `b`'s statements. (Not a statement whose JSON
// holds a conflicting id: a voiding statement refers to it too.)
int StatementNamed(const ImportBatch& b, absl::string_view message) {
  static constexpr absl::string_view kPrefix = "statement_json[";
  const size_t at = message.find(kPrefix);
  if (at == absl::string_view::npos) return -1;
  const absl::string_view rest = message.substr(at + kPrefix.size());
  const size_t close = rest.find(']');
  if (close == 0 || close > 4) return -1;  // a batch holds at most 1,000 statements
  int i = 0;
  for (char c : rest.substr(0, close)) {
    if (!absl::ascii_isdigit(c)) return -1;
    i = i * 10 + (c - '0');
  }
  if (i >= b.request.statement_json_size() || static_cast<size_t>(i) >= b.lines.size()) return -1;
  return i;
}

// Whether a statement's JSON (as sent) may be a voiding statement: its verb
// id's text, with JSON's optional escaped slashes. A false positive only
// orders one batch after the ones before it.
bool MayVoid(const std::string& json) {
  return absl::StrContains(json, "verbs/voided") || absl::StrContains(json, "verbs\\/voided");
}
// A statement id (the record service's canonical 8-4-4-4-12 hex) as a
// number: the import's set of the ids it stored then takes 20 to 40 bytes a
// new statement (40 MB for a million), not a string's ~100. nullopt for text
// that is not a UUID's hex.
std::optional<absl::uint128> IdNumber(absl::string_view id) {
  const std::string hex = absl::StrReplaceAll(id, {{"-", ""}});
  absl::uint128 n = 0;
  if (hex.size() != 32 || !absl::SimpleHexAtoi(hex, &n)) return std::nullopt;
  return n;
}

// Most statement bytes in one import batch: half the server's receive limit
// (records::kRecordsMaxReceiveBytes, 16 MiB), so a batch of big statements
// is cut early instead of refused whole.
constexpr size_t kImportBatchBytes = 8 << 20;

absl::Status CmdImport(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1)
    return Usage("usage: lifelong import FILE [--format jsonl|csv] [--verb V] [--checkpoint PATH]");
  const std::string path = a.positional[0];
  auto format = ImportFormatFor(a.Get("format"), path);
  if (!format.ok()) return AsUsage(format.status());
  const std::string default_verb = a.Get("verb", "completed");
  if (!VerbIri(default_verb).ok()) return Usage(absl::StrCat("--verb: unknown verb '", default_verb, "'"));
  int64_t batch_size = 500;
  if (a.Has("batch")) {
    auto b = ParseIntFlag("batch", a.Get("batch"));
    if (!b.ok()) return AsUsage(b.status());
    if (*b < 1 || *b > 1000) return Usage("--batch: must be in [1, 1000]");
    batch_size = *b;
  }
  int64_t parallel = 4;
  if (a.Has("parallel")) {
    auto n = ParseIntFlag("parallel", a.Get("parallel"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1 || *n > 32) return Usage("--parallel: must be in [1, 32]");
    parallel = *n;
  }
  auto total_lines = CountLines(path);
  if (!total_lines.ok()) return total_lines.status();
  auto reader = ImportReader::Open(path, *format, default_verb);
  if (!reader.ok()) return reader.status();
  const std::string checkpoint = a.Get("checkpoint");
  const Checkpoint resume = checkpoint.empty() ? Checkpoint{} : ReadCheckpoint(checkpoint);
  const int64_t skip = resume.lines;
  absl::StatusOr<std::unique_ptr<InputPrefix>> prefix = InputPrefix::Open(path);
  if (!prefix.ok()) return prefix.status();
  if (skip > *total_lines) {
    return absl::FailedPreconditionError(absl::StrCat("--checkpoint ", checkpoint, ": ", skip, " lines done, but ",
                                                      path, " has only ", *total_lines, "; remove it to start again"));
  }
  if (skip > 0 && !resume.fingerprint.empty()) {
    if (!absl::StrContains(resume.fingerprint, " sha256:")) {
      env.err() << "import: --checkpoint " << checkpoint
                << " was written by an earlier lifelong; its lines are taken on trust\n";
    } else {
      LL_ASSIGN_OR_RETURN(const InputPrefix::Mark mark, (*prefix)->Advance(skip));
      if (mark.lines != skip || mark.fingerprint != resume.fingerprint) {
        return absl::FailedPreconditionError(
            absl::StrCat("--checkpoint ", checkpoint, ": written for another input (the first ", skip, " lines of ",
                         path, " are not the ones it imported); remove it to import ", path, " from its first line"));
      }
    }
  }
  if (skip > 0) env.err() << "import: resuming after line " << skip << " (checkpoint " << checkpoint << ")\n";

  const absl::Time started = absl::Now();
  Progress progress(env.err(), "import", "lines", *total_lines);

  // The reader fills a bounded queue of batches; `parallel` workers send
  // them. The checkpoint advances only over a prefix of completed batches,
  // so it never names a line whose statements may be missing.
  absl::Mutex mu;
  absl::CondVar cv;
  std::deque<ImportBatch> queue;
  bool input_done = false;
  absl::Status failure;                 // first send failure
  std::map<int64_t, int64_t> finished;  // seq -> last_line, beyond the watermark
  int64_t next_seq_to_commit = 0;
  int64_t lines_done = skip;
  int64_t sent = 0, already = 0;
  // Of `already`: rows repeated in the input (the same statement id) whose
  // first copy this import stored. The service answers a repeat with the
  // `stored` time of that copy, after `started`, so the time alone counted
  // every copy as new.
  int64_t repeated = 0;
  absl::flat_hash_set<absl::uint128> stored_here;  // ids this import stored
  std::vector<ImportConflict> conflicts;
  // Channels are created here, once: Env is not thread-safe.
  const std::shared_ptr<grpc::Channel> channel = env.Channel(Service::kRecords);
  auto worker = [&] {
    auto stub = v1::LearningRecordService::NewStub(channel);
    while (true) {
      ImportBatch b;
      {
        absl::MutexLock lock(&mu);
        while (queue.empty() && !input_done) cv.Wait(&mu);
        if (queue.empty()) return;
        b = std::move(queue.front());
        queue.pop_front();
        cv.SignalAll();  // room for the reader
        // Every earlier batch was taken before this one: they are in flight
        // in other workers, which never wait for a later one.
        while (b.after_earlier && next_seq_to_commit < b.seq && failure.ok()) cv.Wait(&mu);
        if (!failure.ok()) return;
      }
      v1::RecordStatementsResponse resp;
      grpc::Status g;
      for (int attempt = 0;; ++attempt) {
        resp.Clear();
        g = stub->RecordStatements(env.Call().get(), b.request, &resp);
        // Every imported statement carries an id (a stable one when the input
        // has none), so sending a batch again cannot duplicate it. CANCELLED:
        // a replicated node stopping with SIGTERM refuses the calls it had
        // accepted but not started (nothing of them was written).
        const bool retryable =
            g.error_code() == grpc::StatusCode::UNAVAILABLE || g.error_code() == grpc::StatusCode::CANCELLED;
        if (g.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          const int i = StatementNamed(b, g.error_message());
          if (i >= 0) {
            {
              absl::MutexLock lock(&mu);
              conflicts.push_back({b.lines[i], g.error_message()});
            }
            b.request.mutable_statement_json()->DeleteSubrange(i, 1);
            b.lines.erase(b.lines.begin() + i);
            attempt = -1;
            if (b.request.statement_json_size() > 0) continue;
            g = grpc::Status::OK;  // nothing left to send
            resp.Clear();
            break;
          }
        }
        if (!retryable || attempt >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
      }
      absl::MutexLock lock(&mu);
      if (!g.ok()) {
        if (failure.ok()) {
          absl::Status e = env.RpcError(Service::kRecords, g);
          // The row the server names, by its line; else the batch.
          const int i = StatementNamed(b, g.error_message());
          failure = absl::Status(e.code(),
                                 i >= 0 ? absl::StrCat(path, ":", b.lines[i], ": ", e.message())
                                        : absl::StrCat("batch ending at ", path, ":", b.last_line, ": ", e.message()));
        }
        input_done = true;  // stop the others and the reader
        queue.clear();
        cv.SignalAll();
        return;
      }
      for (const v1::Statement& st : resp.statements()) {
        absl::Time stored = absl::FromUnixSeconds(st.stored().seconds()) + absl::Nanoseconds(st.stored().nanos());
        if (stored < started) {
          ++already;
          continue;
        }
        // Stored by this import: new the first time its id comes back, in
        // this batch or any other (batches finish in any order: which copy
        // counts as new does not matter, they are one statement).
        const std::optional<absl::uint128> id = IdNumber(st.id());
        if (id && !stored_here.insert(*id).second) {
          ++already;
          ++repeated;
        }
      }
      sent += resp.statements_size();
      finished[b.seq] = b.last_line;
      bool advanced = false;
      for (auto it = finished.find(next_seq_to_commit); it != finished.end(); it = finished.find(next_seq_to_commit)) {
        lines_done = it->second;
        finished.erase(it);
        ++next_seq_to_commit;
        advanced = true;
      }
      if (advanced) cv.SignalAll();  // a batch waiting for the ones before it
      if (advanced && !checkpoint.empty()) {
        absl::Status cs = WriteFileAtomically(checkpoint, [&](std::ostream& o) -> absl::Status {
          LL_ASSIGN_OR_RETURN(const InputPrefix::Mark mark, (*prefix)->Advance(lines_done));
          o << mark.lines << " " << mark.fingerprint << "\n";
          return absl::OkStatus();
        });
        if (!cs.ok() && failure.ok()) {
          failure = cs;
          input_done = true;
          queue.clear();
          cv.SignalAll();
          return;
        }
      }
      progress.Update(lines_done);
    }
  };
  std::vector<std::thread> workers;
  for (int64_t i = 0; i < parallel; ++i) workers.emplace_back(worker);

  absl::Status read_error;
  int64_t seq = 0;
  ImportBatch batch;
  auto push = [&]() -> bool {  // false once a worker failed
    if (batch.request.statement_json_size() == 0) return true;
    batch.seq = seq++;
    absl::MutexLock lock(&mu);
    while (queue.size() >= static_cast<size_t>(2 * parallel) && failure.ok()) cv.Wait(&mu);
    if (!failure.ok()) return false;
    queue.push_back(std::move(batch));
    cv.SignalAll();
    batch = ImportBatch();
    return true;
  };
  while (true) {
    auto next = (*reader)->Next();
    if (!next.ok()) {
      read_error = next.status();
      break;
    }
    if (!next->has_value()) break;
    if ((*reader)->line() <= skip) continue;
    // A batch stays well under the server's receive limit
    // (records::kRecordsMaxReceiveBytes): big statements go in smaller batches.
    if (batch.request.statement_json_size() > 0 && batch.bytes + (*next)->size() > kImportBatchBytes && !push()) break;
    // A voiding statement starts a batch that waits for the ones before it.
    if (MayVoid(**next)) {
      if (batch.request.statement_json_size() > 0 && !push()) break;
      batch.after_earlier = true;
    }
    batch.bytes += (*next)->size();
    batch.request.add_statement_json(std::move(**next));
    batch.last_line = (*reader)->line();
    batch.lines.push_back(batch.last_line);
    if (batch.request.statement_json_size() >= batch_size && !push()) break;
  }
  push();  // the last batch; statements before a bad line are stored first
  {
    absl::MutexLock lock(&mu);
    input_done = true;
    cv.SignalAll();
  }
  for (auto& t : workers) t.join();
  // The rows left out are listed whatever else ends the import: the
  // checkpoint may already be past them.
  std::sort(conflicts.begin(), conflicts.end(),
            [](const ImportConflict& x, const ImportConflict& y) { return x.line < y.line; });
  for (const ImportConflict& c : conflicts) env.err() << path << ":" << c.line << ": " << c.message << "\n";
  if (!failure.ok()) return failure;
  if (!read_error.ok()) return read_error;
  if (!checkpoint.empty()) {
    (void)WriteFileAtomically(checkpoint, [&](std::ostream& o) -> absl::Status {
      LL_ASSIGN_OR_RETURN(const InputPrefix::Mark mark, (*prefix)->Advance((*reader)->line()));
      o << mark.lines << " " << mark.fingerprint << "\n";
      return absl::OkStatus();
    });
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - started);
  if (env.json()) {
    env.out() << Json{{"file", path},          {"statements", sent},
                      {"new", sent - already}, {"already_stored", already},
                      {"repeated", repeated},  {"seconds", secs}}
                     .dump()
              << "\n";
  } else {
    env.out() << absl::StrFormat(
        "imported %s statement(s) from %s in %.1fs: %s new, %s already stored%s\n", WithThousands(sent), path, secs,
        WithThousands(sent - already), WithThousands(already),
        repeated > 0 ? absl::StrCat(" (", WithThousands(repeated), " of them repeated rows)") : "");
  }
  if (!conflicts.empty()) {
    return absl::AlreadyExistsError(absl::StrCat(
        conflicts.size(), " row(s) not imported: their statement ids are stored with other content (listed above; ",
        "the other rows were imported)"));
  }
  return absl::OkStatus();
}

absl::Status CmdExport(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty())
    return Usage("usage: lifelong export [--learner L] [--after CURSOR] [--limit N] [--out FILE] [--allow_stale]");
  v1::ExportStatementsRequest all;
  if (!a.Has("learner")) {
    all.set_after_cursor(a.Get("after"));
    if (a.Has("limit")) {
      auto n = ParseIntFlag("limit", a.Get("limit"));
      if (!n.ok()) return AsUsage(n.status());
      if (*n < 0 || *n > INT32_MAX) return Usage("--limit: must be in [0, 2^31)");
      all.set_limit(static_cast<int32_t>(*n));
    }
  }
  const bool to_file = a.Has("out");
  int64_t n = 0;
  int64_t voiders_written = 0, missing_voiders = 0;  // --learner
  std::string cursor;
  // Streams the export to `out`; an RPC failure is an error (a file is then
  // not written: WriteFileAtomically keeps the old one).
  auto stream = [&](std::ostream& out) -> absl::Status {
    auto stub = env.Records();
    auto call = env.Call(/*stream=*/true);
    // A node whose store may be stale refuses it otherwise (statement_access.h).
    if (a.Has("allow_stale")) call->AddMetadata(records::kStaleReadsHeader, "allow");
    std::unique_ptr<grpc::ClientReader<v1::Statement>> reader;
    if (a.Has("learner")) {
      v1::ExportLearnerRequest req;
      req.set_learner(a.Get("learner"));
      reader = stub->ExportLearner(call.get(), req);
    } else {
      reader = stub->ExportStatements(call.get(), all);
    }
    Progress progress(env.err(), "export", "statements", 0, absl::Seconds(2));
    v1::Statement s;
    // --learner: the voiding statements of the learner's voided ones, which
    // the record service files under their own actor (staff, a district
    // system), in order of first mention, less those streamed already (a
    // learner's void of their own statement).
    std::vector<std::string> voiders;
    absl::flat_hash_set<std::string> streamed, listed;
    while (reader->Read(&s)) {
      out << s.json() << "\n";
      cursor = s.cursor();
      ++n;
      if (a.Has("learner")) {
        streamed.insert(s.id());
        if (s.voided() && !s.voided_by().empty() && listed.insert(s.voided_by()).second) {
          voiders.push_back(s.voided_by());
        }
      }
      if (to_file) progress.Update(n);
    }
    grpc::Status g = reader->Finish();
    if (!g.ok()) return env.RpcError(Service::kRecords, g);
    // Written after the learner's statements, so that a re-import (which
    // sends a batch holding a voiding statement after the batches before it)
    // stores each after its target and keeps the void.
    for (const std::string& id : voiders) {
      if (streamed.contains(id)) continue;
      v1::GetStatementRequest get;
      get.set_id(id);
      v1::Statement voiding;
      grpc::Status got = stub->GetStatement(env.Call().get(), get, &voiding);
      if (!got.ok()) {
        // Not fatal (the voided statements are exported): say which void the
        // file cannot carry, e.g. with a learner's token that may not read it.
        env.err() << "warning: voiding statement " << id << " not exported: " << got.error_message() << "\n";
        ++missing_voiders;
        continue;
      }
      out << voiding.json() << "\n";
      ++n;
      ++voiders_written;
    }
    if (!out) return absl::InternalError("export: write failed");
    return absl::OkStatus();
  };
  // The summary, with the cursor to go on from (--after), goes to stderr:
  // stdout, when it is the export, stays statements alone.
  if (to_file) {
    LL_RETURN_IF_ERROR(WriteFileAtomically(a.Get("out"), stream));
  } else {
    LL_RETURN_IF_ERROR(stream(env.out()));
  }
  env.err() << "exported " << n << " statement(s) to " << (to_file ? a.Get("out") : "stdout")
            << (voiders_written > 0 ? absl::StrCat(" (", voiders_written, " of them voiding statements of others)")
                                    : "")
            << (cursor.empty() ? "" : absl::StrCat("; last cursor ", cursor)) << "\n";
  if (missing_voiders > 0) {
    env.err() << "warning: " << missing_voiders
              << " voided statement(s) exported without their voiding statement: a re-import would count them\n";
  }
  return absl::OkStatus();
}

absl::Status CmdErase(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong erase-learner LEARNER --yes");
  if (!a.GetBool("yes")) return Usage("erase-learner removes every statement of the learner; add --yes to confirm");
  v1::EraseLearnerRequest req;
  req.set_learner(a.positional[0]);
  req.set_wait_for_purge(!a.GetBool("no_wait_purge"));
  v1::EraseLearnerResponse resp;
  // The stream deadline (--stream_timeout, 1 h), not the unary 10 s, which
  // would report a failure for an erasure that completes: waiting for the
  // purge, the statements leave the store's files in a flush and a
  // compaction (seconds on a large store; docs/records.md "Erasure purge");
  // without it, the erasure still waits for every write queued before it.
  if (req.wait_for_purge()) {
    env.err() << "erasing " << req.learner() << " (then waiting while the store rewrites the files that held them)\n"
              << std::flush;
  }
  grpc::Status g = env.Records()->EraseLearner(env.Call(/*stream=*/true).get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << Json{{"learner", req.learner()},
                      {"erased_statements", resp.erased_statements()},
                      {"purged", resp.purged()}}
                     .dump()
              << "\n";
  } else {
    env.out() << "erased " << resp.erased_statements() << " statement(s) of " << req.learner()
              << (resp.purged()          ? "; purged from the store's files"
                  : req.wait_for_purge() ? "; their purge from the store's files was still running at the deadline and "
                                           "goes on in the background"
                                         : "; their purge from the store's files runs in the background")
              << "\n";
  }
  return absl::OkStatus();
}

}  // namespace lifelong::cli
