#include "services/cli/args.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace lifelong::cli {

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

bool ParsedArgs::GetBool(const std::string& name) const { return Get(name, "false") == "true"; }

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  auto find = [&](absl::string_view name, char short_name) -> const FlagSpec* {
    for (const FlagSpec& s : specs) {
      if ((short_name != 0 && s.short_name == short_name) || (short_name == 0 && s.name == name)) {
        return &s;
      }
    }
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      out.positional.push_back(a);
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string shown;
    std::string value;
    bool has_inline = false;
    if (a[1] == '-') {
      absl::string_view body = absl::string_view(a).substr(2);
      size_t eq = body.find('=');
      absl::string_view name = body.substr(0, eq);
      if (eq != absl::string_view::npos) {
        value = std::string(body.substr(eq + 1));
        has_inline = true;
      }
      spec = find(name, 0);
      shown = absl::StrCat("--", name);
    } else {
      if (a.size() == 2) spec = find("", a[1]);
      shown = a;
      // Negative numbers as positional arguments are not supported; "-5" is a flag.
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", shown));
    if (!spec->has_value) {
      if (has_inline && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag ", shown, " takes no value (or true/false): '", value, "'"));
      }
      out.flags[spec->name] = has_inline ? value : "true";
      continue;
    }
    if (!has_inline) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag ", shown, " needs a value"));
      }
      value = args[++i];
    }
    out.flags[spec->name] = value;
  }
  return out;
}

absl::StatusOr<int64_t> ParseIntFlag(const std::string& name, const std::string& value) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not an integer: '", value, "'"));
  }
  return v;
}

bool IsPlainDecimal(absl::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t mantissa = digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

absl::StatusOr<double> ParsePlainDecimal(absl::string_view text) {
  double v = 0;
  if (!IsPlainDecimal(text) || !absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError("not a finite number in plain decimal");
  }
  return v;
}

absl::StatusOr<double> ParseDoubleFlag(const std::string& name, const std::string& value) {
  absl::StatusOr<double> v = ParsePlainDecimal(value);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": not a number: '", value, "'"));
  return v;
}

absl::StatusOr<int64_t> ParseDurationMsFlag(const std::string& name, const std::string& value) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": not a positive duration such as 10s or 500ms: '", value, "'"));
  }
  return absl::ToInt64Milliseconds(d);
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const FlagSpec& s : specs) {
    std::string left = absl::StrCat("  ", s.short_name ? absl::StrCat("-", std::string(1, s.short_name), ", ") : "",
                                    "--", s.name, s.has_value ? "=VALUE" : "");
    if (left.size() < 28) left.resize(28, ' ');
    absl::StrAppend(&out, left, " ", s.help, "\n");
  }
  return out;
}

}  // namespace lifelong::cli
