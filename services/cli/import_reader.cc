#include "services/cli/import_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/cli/args.h"
#include "services/cli/stable_id.h"
#include "services/cli/statement_builder.h"
#include "services/common/json_nesting.h"

namespace lifelong::cli {
namespace {

constexpr absl::string_view kKnownKeys[] = {
    "learner", "user",  "course",   "item",         "verb",    "timestamp", "order", "title", "mode",      "xuequ",
    "jiedao",  "venue", "platform", "registration", "credits", "hours",     "score", "id",    "statement", "weight",
};

bool KnownKey(absl::string_view key) {
  for (absl::string_view k : kKnownKeys) {
    if (k == key) return true;
  }
  return false;
}

std::string FormatMicros(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

// Keys whose values are numbers in the statement; the others are text (ids,
// names, times) even when a file writes them as JSON numbers.
bool NumericKey(absl::string_view key) {
  return key == "credits" || key == "hours" || key == "score" || key == "weight";
}

// Largest magnitude below which every integer is exactly a double: a float id
// beyond it (1e300) no longer says which id was meant.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

// The text of a JSON number given for a text key: integers as they are
// (unsigned up to 2^64-1 without wrapping), floats only when they hold a
// whole number (1234567.0 is "1234567"; 1.5 is refused).
absl::StatusOr<std::string> IdTextOfNumber(absl::string_view key, const nlohmann::ordered_json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxExactInteger) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": a number here must be a whole number below 2^53 (or a string), got ", v.dump()));
  }
  return std::to_string(static_cast<int64_t>(d));
}

// Fills `f` from key/value text pairs (CSV cells or JSON scalars as text).
absl::Status SetField(StatementFields* f, absl::string_view key, const std::string& value) {
  if (value.empty()) return absl::OkStatus();
  absl::Status utf8 = CheckUtf8(key, value);
  if (!utf8.ok()) return utf8;
  auto number = [&](std::optional<double>* out) -> absl::Status {
    absl::StatusOr<double> d = ParsePlainDecimal(value);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": not a number: '", value, "'"));
    *out = *d;
    return absl::OkStatus();
  };
  if (key == "learner" || key == "user") {
    f->learner = value;
  } else if (key == "course" || key == "item") {
    f->course = value;
  } else if (key == "verb") {
    f->verb = value;
  } else if (key == "timestamp") {
    f->timestamp = value;
  } else if (key == "order") {
    int64_t micros = 0;
    if (!absl::SimpleAtoi(value, &micros)) {
      return absl::InvalidArgumentError(absl::StrCat("order: not an integer: '", value, "'"));
    }
    if (f->timestamp.empty()) f->timestamp = FormatMicros(micros);
  } else if (key == "title") {
    f->title = value;
  } else if (key == "mode") {
    f->mode = value;
  } else if (key == "xuequ") {
    f->xuequ = value;
  } else if (key == "jiedao") {
    f->jiedao = value;
  } else if (key == "venue") {
    f->venue = value;
  } else if (key == "platform") {
    f->platform = value;
  } else if (key == "registration") {
    f->registration = value;
  } else if (key == "id") {
    f->id = value;
  } else if (key == "credits") {
    return number(&f->credits);
  } else if (key == "hours") {
    return number(&f->hours);
  } else if (key == "score") {
    return number(&f->score);
  }
  // "weight" is a model-side field; it has no place in a statement.
  return absl::OkStatus();
}

// The field a key names: "user" is "learner" and "item" is "course"; any
// other key names itself.
absl::string_view FieldOf(absl::string_view key) {
  if (key == "user") return "learner";
  if (key == "item") return "course";
  return key;
}

// Finds the first member that repeats a name within its object, at any
// depth, in one SAX pass over a line (no tree is built). JSON readers
// disagree on a repeated member: nlohmann's keeps the last, the record
// service's simdjson the first (services/records/statement.cc refuses the
// statement), so a line that repeats one is ambiguous and refused. Stops at
// the first repeat; a line that is not JSON passes (the caller parses it).
class RepeatedMemberFinder final : public nlohmann::ordered_json::json_sax_t {
 public:
  // "member "<name>" appears twice", with " in <path>" (actor.account,
  // context.contextActivities.parent[1]) below the top level; empty when no
  // object repeats a member.
  static std::string Find(absl::string_view line) {
    RepeatedMemberFinder finder;
    nlohmann::ordered_json::sax_parse(line, &finder);
    return std::move(finder.found_);
  }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    Value();
    frames_.push_back(Frame{/*object=*/true});
    return true;
  }
  bool key(string_t& name) override {
    Frame& f = frames_.back();
    if (!f.Insert(name)) {
      found_ = absl::StrCat("member \"", name, "\" appears twice");
      if (frames_.size() > 1) absl::StrAppend(&found_, " in ", Path());
      return false;  // stops the parse
    }
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    Value();
    frames_.push_back(Frame{/*object=*/false});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Frame {
    bool object = false;
    // Objects: the member names so far, compared name by name while they are
    // few (a statement's objects: no hashing), in a set once there are many
    // (a 1 MiB line can hold ~100k members).
    std::vector<std::string> few;
    absl::flat_hash_set<std::string> many;
    std::string key;      // objects: the member being read
    size_t elements = 0;  // arrays: elements begun so far

    // False when `name` is already a member.
    bool Insert(const std::string& name) {
      static constexpr size_t kFew = 16;
      if (many.empty() && few.size() < kFew) {
        if (std::find(few.begin(), few.end(), name) != few.end()) return false;
        few.push_back(name);
      } else {
        if (many.empty()) many.insert(std::make_move_iterator(few.begin()), std::make_move_iterator(few.end()));
        if (!many.insert(name).second) return false;
      }
      key = name;
      return true;
    }
  };

  // A value begins: in an array, the next element.
  bool Value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().elements;
    return true;
  }

  // Where the innermost object is: its members' and elements' names from the
  // top level down.
  std::string Path() const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.object) {
        absl::StrAppend(&path, path.empty() ? "" : ".", f.key);
      } else {
        absl::StrAppend(&path, "[", f.elements - 1, "]");
      }
    }
    return path;
  }

  std::vector<Frame> frames_;  // as deep as the line's nesting (kMaxNesting)
  std::string found_;
};

// Arrays and objects nested deeper than this are refused before parsing: an
// xAPI statement nests about ten deep, and the JSON library's printing
// recurses once per level (a line of 500,000 brackets overflowed the stack).
constexpr int kMaxNesting = 64;

}  // namespace

absl::StatusOr<ImportFormat> ImportFormatFor(absl::string_view flag, absl::string_view path) {
  if (flag == "jsonl" || flag == "json") return ImportFormat::kJsonLines;
  if (flag == "csv") return ImportFormat::kCsv;
  if (!flag.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--format: expected jsonl or csv, got '", flag, "'"));
  }
  return absl::EndsWithIgnoreCase(path, ".csv") ? ImportFormat::kCsv : ImportFormat::kJsonLines;
}

absl::StatusOr<std::string> StatementFromJsonLine(absl::string_view line, absl::string_view default_verb) {
  if (JsonNestsDeeperThan(line, kMaxNesting)) {
    return absl::InvalidArgumentError(absl::StrCat("nested deeper than ", kMaxNesting, " arrays and objects"));
  }
  // The JSON parser refuses bad UTF-8 too; say so rather than "not JSON".
  const int64_t bad = FirstInvalidUtf8Byte(line);
  if (bad >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid UTF-8 (byte ", bad + 1, "); save the input as UTF-8, not GBK"));
  }
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  // The tree above kept the last of a repeated member. A second pass, about
  // half the cost of the first (measured 2026-12-08, 100,000 statements of
  // ~650 bytes, -O2: 4-8 us a line, against 8-14 us to parse and print one).
  if (std::string repeated = RepeatedMemberFinder::Find(line); !repeated.empty()) {
    return absl::InvalidArgumentError(repeated);
  }
  if (j.contains("actor")) {
    if (!j.contains("id")) j["id"] = StableUuid(absl::StrCat("stmt-json|", j.dump()));
    return j.dump();
  }
  StatementFields f;
  std::vector<absl::string_view> keys;  // given so far
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!KnownKey(it.key())) {
      return absl::InvalidArgumentError(absl::StrCat(it.key(), ": unknown field"));
    }
    for (absl::string_view earlier : keys) {
      if (FieldOf(earlier) == FieldOf(it.key())) {
        return absl::InvalidArgumentError(absl::StrCat("\"", it.key(), "\" and \"", earlier, "\" name the same field"));
      }
    }
    keys.push_back(it.key());
    std::string text;
    if (it->is_string()) {
      text = it->get<std::string>();
    } else if (it->is_number() && NumericKey(it.key())) {
      // Passed through as a double: printing it as text first lost digits
      // (1.2345678 became 1.23457).
      const double d = it->get<double>();
      if (it.key() == "credits") f.credits = d;
      if (it.key() == "hours") f.hours = d;
      if (it.key() == "score") f.score = d;
      continue;
    } else if (it->is_number()) {
      absl::StatusOr<std::string> id = IdTextOfNumber(it.key(), *it);
      if (!id.ok()) return id.status();
      text = *std::move(id);
    } else if (!it->is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(it.key(), ": expected a string or number"));
    }
    absl::Status s = SetField(&f, it.key(), text);
    if (!s.ok()) return s;
  }
  if (f.verb.empty()) f.verb = std::string(default_verb);
  return BuildStatementJson(f);
}

namespace {
constexpr absl::string_view kUnterminatedQuote = "unterminated quoted field";
}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCsvLine(absl::string_view line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cell += c;
      }
    } else if (c == '"' && cell.empty() && !was_quoted) {
      quoted = true;
      was_quoted = true;
    } else if (c == ',') {
      cells.push_back(was_quoted ? cell : std::string(absl::StripAsciiWhitespace(cell)));
      cell.clear();
      was_quoted = false;
    } else if (c != '\r') {
      cell += c;
    }
  }
  if (quoted) return absl::InvalidArgumentError(kUnterminatedQuote);
  cells.push_back(was_quoted ? cell : std::string(absl::StripAsciiWhitespace(cell)));
  return cells;
}

absl::StatusOr<std::string> StatementFromCsvRow(const std::vector<std::string>& header,
                                                const std::vector<std::string>& row, absl::string_view default_verb) {
  if (row.size() != header.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", header.size(), " columns, got ", row.size()));
  }
  StatementFields f;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "statement" && !row[i].empty()) return StatementFromJsonLine(row[i], default_verb);
    absl::Status s = SetField(&f, header[i], row[i]);
    if (!s.ok()) return s;
  }
  if (f.verb.empty()) f.verb = std::string(default_verb);
  return BuildStatementJson(f);
}

absl::StatusOr<std::unique_ptr<ImportReader>> ImportReader::Open(const std::string& path, ImportFormat format,
                                                                 std::string default_verb) {
  std::unique_ptr<ImportReader> r(new ImportReader(path, format, std::move(default_verb)));
  r->in_.open(path);
  if (!r->in_) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  if (format == ImportFormat::kCsv) {
    std::string line;
    while (std::getline(r->in_, line)) {
      ++r->line_;
      if (absl::StripAsciiWhitespace(line).empty()) continue;  // no '#' comments in CSV: "#2 班" is data
      if (r->line_ == 1 && absl::StartsWith(line, "\xEF\xBB\xBF")) line = line.substr(3);  // BOM
      absl::StatusOr<std::vector<std::string>> h = SplitCsvLine(line);
      if (!h.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", r->line_, ": ", h.status().message()));
      for (size_t i = 0; i < h->size(); ++i) {
        std::string& col = (*h)[i];
        col = absl::AsciiStrToLower(col);
        if (!KnownKey(col)) {
          return absl::InvalidArgumentError(absl::StrCat(path, ":", r->line_, ": unknown column '", col, "'"));
        }
        // A field given twice would take a row's last non-empty cell.
        for (size_t k = 0; k < i; ++k) {
          if (FieldOf((*h)[k]) != FieldOf(col)) continue;
          return absl::InvalidArgumentError(
              (*h)[k] == col
                  ? absl::StrCat(path, ":", r->line_, ": column '", col, "' appears twice")
                  : absl::StrCat(path, ":", r->line_, ": columns '", col, "' and '", (*h)[k], "' name the same field"));
        }
      }
      r->header_ = std::move(*h);
      return r;
    }
    return absl::InvalidArgumentError(absl::StrCat(path, ": no header line"));
  }
  return r;
}

absl::StatusOr<std::optional<std::string>> ImportReader::Next() {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty()) continue;
    // '#' comments are a JSON-lines convention; in CSV such a row is data
    // (a title "#2 书法提高班" in the first column).
    if (format_ == ImportFormat::kJsonLines && trimmed[0] == '#') continue;
    const int64_t first_line = line_;
    absl::StatusOr<std::string> st;
    if (format_ == ImportFormat::kCsv) {
      absl::StatusOr<std::vector<std::string>> row = SplitCsvLine(line);
      // A quoted field may hold line breaks (RFC 4180): the record goes on
      // on the next line, up to kMaxCsvRecordBytes.
      std::string next;
      while (!row.ok() && row.status().message() == kUnterminatedQuote && line.size() < kMaxCsvRecordBytes &&
             std::getline(in_, next)) {
        ++line_;
        if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files: the break is one "\n"
        line.append("\n").append(next);
        row = SplitCsvLine(line);
      }
      st = row.ok() ? StatementFromCsvRow(header_, *row, default_verb_) : absl::StatusOr<std::string>(row.status());
    } else {
      st = StatementFromJsonLine(trimmed, default_verb_);
    }
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ":", first_line, ": ", st.status().message()));
    }
    return std::optional<std::string>(std::move(*st));
  }
  return std::optional<std::string>();
}

absl::StatusOr<int64_t> CountLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  int64_t n = 0;
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) n += buf[i] == '\n';
  }
  return n;
}

absl::StatusOr<std::unique_ptr<InputPrefix>> InputPrefix::Open(const std::string& path) {
  std::unique_ptr<InputPrefix> p(new InputPrefix());
  p->in_.open(path, std::ios::binary);
  if (!p->in_) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  p->sha_ = EVP_MD_CTX_new();
  if (p->sha_ == nullptr || EVP_DigestInit_ex(p->sha_, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("sha256: cannot start a digest");
  }
  return p;
}

InputPrefix::~InputPrefix() { EVP_MD_CTX_free(sha_); }

absl::StatusOr<InputPrefix::Mark> InputPrefix::Advance(int64_t lines) {
  if (lines < asked_) {
    return absl::InvalidArgumentError(absl::StrCat("input prefix: ", lines, " lines after ", asked_));
  }
  asked_ = lines;
  while (lines_ < lines) {
    const char* start = partial_.data() + pos_;
    const void* eol = std::memchr(start, '\n', partial_.size() - pos_);
    if (eol == nullptr) {
      if (at_end_) break;
      partial_.erase(0, pos_);
      pos_ = 0;
      char buf[1 << 16];
      in_.read(buf, sizeof(buf));
      if (in_.bad()) return absl::InternalError("input prefix: read failed");
      if (in_.gcount() == 0) at_end_ = true;
      partial_.append(buf, static_cast<size_t>(in_.gcount()));
      continue;
    }
    const size_t len = static_cast<const char*>(eol) - start + 1;
    if (EVP_DigestUpdate(sha_, start, len) != 1) return absl::InternalError("sha256: update failed");
    pos_ += len;
    bytes_ += len;
    ++lines_;
  }
  // The digest so far, from a copy: the running one goes on.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const bool ok =
      copy != nullptr && EVP_MD_CTX_copy_ex(copy, sha_) == 1 && EVP_DigestFinal_ex(copy, digest, &size) == 1;
  EVP_MD_CTX_free(copy);
  if (!ok) return absl::InternalError("sha256: digest failed");
  return Mark{lines_, absl::StrCat(bytes_, " sha256:",
                                   absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), size)))};
}

}  // namespace lifelong::cli
