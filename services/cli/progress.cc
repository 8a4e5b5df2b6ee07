#include "services/cli/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lifelong::cli {

std::string WithThousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string ShortDuration(absl::Duration d) {
  int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

Progress::Progress(std::ostream& out, std::string what, std::string unit, int64_t total, absl::Duration interval)
    : out_(out),
      what_(std::move(what)),
      unit_(std::move(unit)),
      interval_(interval),
      start_(absl::Now()),
      total_(total),
      last_(start_) {}

void Progress::set_total(int64_t total) {
  absl::MutexLock lock(&mu_);
  total_ = total;
}

void Progress::Update(int64_t done, const std::string& note) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - last_ < interval_) return;
  last_ = now;
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(now - start_));
  const double rate = done / secs;
  std::string line = absl::StrCat(what_, ": ", WithThousands(done));
  if (total_ > 0) absl::StrAppend(&line, "/", WithThousands(total_));
  absl::StrAppend(&line, " ", unit_, " (", WithThousands(static_cast<int64_t>(rate)), "/s");
  if (total_ > 0 && rate > 0 && done <= total_) {
    absl::StrAppend(&line, ", ETA ", ShortDuration(absl::Seconds((total_ - done) / rate)));
  }
  absl::StrAppend(&line, ")");
  if (!note.empty()) absl::StrAppend(&line, " ", note);
  absl::StrAppend(&line, "\n");
  out_ << line << std::flush;  // one write: lines of bars on other threads do not interleave
}

double Progress::Finish(int64_t done, const std::string& note) {
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - start_));
  const double rate = done / secs;
  absl::MutexLock lock(&mu_);
  out_ << absl::StrFormat("%s: %s %s in %.1fs (%s/s)%s%s\n", what_, WithThousands(done), unit_, secs,
                          WithThousands(static_cast<int64_t>(rate)), note.empty() ? "" : " ", note)
       << std::flush;
  return rate;
}

}  // namespace lifelong::cli
