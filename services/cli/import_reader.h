// Reads files for `lifelong import`: JSON lines or CSV, each line either a
// full xAPI statement or an interaction (learner, course, verb, ...) that is
// turned into a statement with StatementFields. Every statement leaves with
// an id: the one it has, else a stable one derived from its content, so
// importing a file twice (or resuming an interrupted import) stores nothing
// twice. No network; thread-compatible.
#ifndef LIFELONG_SERVICES_CLI_IMPORT_READER_H_
#define LIFELONG_SERVICES_CLI_IMPORT_READER_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::cli {

enum class ImportFormat { kJsonLines, kCsv };

// "jsonl"/"json" or "csv"; "" picks by the file name (".csv" is CSV, anything
// else JSON lines). INVALID_ARGUMENT for other values.
absl::StatusOr<ImportFormat> ImportFormatFor(absl::string_view flag, absl::string_view path);

// One JSON-lines line as a statement. A JSON object with "actor" is an xAPI
// statement (an id is added when absent: StableUuid of its compact JSON);
// otherwise it is an interaction with the keys learner|user, course|item,
// verb, timestamp (RFC 3339) or order (Unix microseconds), title, mode,
// xuequ, jiedao, venue, platform, registration, credits, hours, score, id
// (JSON numbers are accepted for learner, course and the other text keys
// when they are whole numbers: 1234567.0 is "1234567", 18446744073709551615
// is itself; credits, hours and score keep every digit). Numbers in text
// (CSV cells, JSON strings) must be plain decimal: no hex, inf or nan.
// `default_verb` applies when an interaction has no verb. INVALID_ARGUMENT
// naming the field otherwise, and for text that is not valid UTF-8. A member
// given twice in one object, at any depth, is INVALID_ARGUMENT `member "name"
// appears twice [in actor.account]` (JSON readers disagree on which one
// counts), and so is one field under both its names (learner and user,
// course and item).
absl::StatusOr<std::string> StatementFromJsonLine(absl::string_view line, absl::string_view default_verb);

// Splits one CSV record (RFC 4180 quoting: "a ""b""",c). INVALID_ARGUMENT on
// an unterminated quote.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(absl::string_view line);

// One CSV row under `header` (the interaction keys above, "statement" for a
// column holding full statement JSON). INVALID_ARGUMENT naming the column.
absl::StatusOr<std::string> StatementFromCsvRow(const std::vector<std::string>& header,
                                                const std::vector<std::string>& row, absl::string_view default_verb);

// Longest CSV record whose quoted field spans lines (a longer one is an
// unterminated quote): the record store takes statements up to 1 MiB.
inline constexpr size_t kMaxCsvRecordBytes = 1 << 20;

// Streams statements out of a file, skipping blank lines and, in JSON lines
// only, lines starting with '#' (a CSV row starting with '#' is data). A CSV
// record may span lines inside a quoted field (RFC 4180).
class ImportReader {
 public:
  // NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT for a CSV file
  // without a header, with an unknown column, or naming a field twice (the
  // same column twice, or learner and user, course and item).
  static absl::StatusOr<std::unique_ptr<ImportReader>> Open(const std::string& path, ImportFormat format,
                                                            std::string default_verb);

  // The next statement, or nullopt at the end of the file. INVALID_ARGUMENT
  // "path:line: message" for a bad line (a CSV record's first line).
  absl::StatusOr<std::optional<std::string>> Next();

  // Physical lines read so far (the header included); after Next() returns a
  // statement, the number of the last line it came from.
  int64_t line() const { return line_; }

 private:
  ImportReader(std::string path, ImportFormat format, std::string default_verb)
      : path_(std::move(path)), format_(format), default_verb_(std::move(default_verb)) {}

  std::string path_;
  ImportFormat format_;
  std::string default_verb_;
  std::ifstream in_;
  std::vector<std::string> header_;
  int64_t line_ = 0;
};

// Number of lines in `path` (for progress and ETA); NOT_FOUND when unreadable.
absl::StatusOr<int64_t> CountLines(const std::string& path);

// The lines an import's checkpoint says are done, tied to their bytes.
// Advance(n) covers the input's first n lines (fewer when it has fewer whole
// lines: an unterminated last line, perhaps still being written, is never
// counted) and gives their fingerprint, "<bytes> sha256:<hex>" of every byte
// up to the end of the last line covered. The same file grown at its end, or
// mended after those lines, gives the same; any other change to them (a
// nightly file regenerated under the same name, however alike) another.
// Reads the file forward once over all calls; not thread-safe.
class InputPrefix {
 public:
  struct Mark {
    int64_t lines = 0;        // whole lines covered, at most the n asked for
    std::string fingerprint;  // "<bytes> sha256:<hex>"
  };
  // NOT_FOUND when `path` is unreadable.
  static absl::StatusOr<std::unique_ptr<InputPrefix>> Open(const std::string& path);
  ~InputPrefix();
  InputPrefix(const InputPrefix&) = delete;
  InputPrefix& operator=(const InputPrefix&) = delete;
  // `lines` may not be fewer than the last call's (INVALID_ARGUMENT);
  // INTERNAL when the file cannot be read.
  absl::StatusOr<Mark> Advance(int64_t lines);

 private:
  InputPrefix() = default;
  std::ifstream in_;
  EVP_MD_CTX* sha_ = nullptr;
  int64_t asked_ = 0;  // the largest `lines` asked for so far
  int64_t lines_ = 0;  // whole lines hashed
  uint64_t bytes_ = 0;
  std::string partial_;  // bytes read and not yet hashed, from pos_
  size_t pos_ = 0;
  bool at_end_ = false;
};

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_IMPORT_READER_H_
