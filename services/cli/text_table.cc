#include "services/cli/text_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/common/utf8.h"

namespace lifelong::cli {
namespace {

// Decodes one UTF-8 code point at text[*pos] (utf8::Decode); advances *pos.
// A byte that does not begin a well-formed sequence decodes as itself (one
// byte, *valid false) so that it still takes a column.
char32_t DecodeOne(absl::string_view text, size_t* pos, bool* valid) {
  const utf8::Decoded d = utf8::Decode(text, *pos);
  *valid = d.ok();
  if (!d.ok()) return static_cast<unsigned char>(text[(*pos)++]);
  *pos += d.size;
  return d.code_point;
}

// Control characters become a space: C0 (newlines and tabs included), DEL,
// C1 (U+0080-U+009F), and bytes that are not UTF-8. Text in a cell comes from
// learners and teachers (titles, extensions); an ESC sequence printed raw
// would drive the operator's terminal (set the clipboard, rewrite lines).
std::string Sanitize(absl::string_view cell) {
  std::string out;
  out.reserve(cell.size());
  size_t pos = 0;
  while (pos < cell.size()) {
    const size_t start = pos;
    bool valid = false;
    const char32_t cp = DecodeOne(cell, &pos, &valid);
    if (!valid || cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
      out.push_back(' ');
    } else {
      out.append(cell.data() + start, pos - start);
    }
  }
  return out;
}

}  // namespace

int CodePointWidth(char32_t cp) {
  if (cp == 0) return 0;
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;  // controls
  // Combining marks and zero-width characters.
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x20D0 && cp <= 0x20FF) ||
      (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x2060 || cp == 0xFEFF) {
    return 0;
  }
  // East Asian Wide (W) and Fullwidth (F) ranges.
  if ((cp >= 0x1100 && cp <= 0x115F) ||    // Hangul Jamo initials
      (cp >= 0x2E80 && cp <= 0x303E) ||    // CJK radicals .. CJK symbols and punctuation
      (cp >= 0x3041 && cp <= 0x33FF) ||    // kana .. CJK compatibility
      (cp >= 0x3400 && cp <= 0x4DBF) ||    // CJK extension A
      (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified ideographs
      (cp >= 0xA000 && cp <= 0xA4CF) ||    // Yi
      (cp >= 0xAC00 && cp <= 0xD7A3) ||    // Hangul syllables
      (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility ideographs
      (cp >= 0xFE10 && cp <= 0xFE19) ||    // vertical forms
      (cp >= 0xFE30 && cp <= 0xFE6F) ||    // CJK compatibility forms, small forms
      (cp >= 0xFF00 && cp <= 0xFF60) ||    // fullwidth forms
      (cp >= 0xFFE0 && cp <= 0xFFE6) ||    // fullwidth signs
      (cp >= 0x1F300 && cp <= 0x1F64F) ||  // pictographs, emoticons
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD)) {  // CJK extensions B..
    return 2;
  }
  return 1;
}

int DisplayWidth(absl::string_view text) {
  int width = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    bool valid = false;
    char32_t cp = DecodeOne(text, &pos, &valid);
    width += valid ? CodePointWidth(cp) : 1;
  }
  return width;
}

std::string TruncateToWidth(absl::string_view text, int max_width) {
  if (DisplayWidth(text) <= max_width) return std::string(text);
  const bool ellipsis = max_width >= 4;
  const int budget = ellipsis ? max_width - 3 : std::max(max_width, 0);
  int width = 0;
  size_t pos = 0;
  size_t cut = 0;
  while (pos < text.size()) {
    bool valid = false;
    char32_t cp = DecodeOne(text, &pos, &valid);
    int w = valid ? CodePointWidth(cp) : 1;
    if (width + w > budget) break;
    width += w;
    cut = pos;
  }
  std::string out(text.substr(0, cut));
  if (ellipsis) out += "...";
  return out;
}

std::string PadToWidth(absl::string_view text, int width, bool right_align) {
  int w = DisplayWidth(text);
  if (w >= width) return std::string(text);
  std::string pad(width - w, ' ');
  return right_align ? absl::StrCat(pad, text) : absl::StrCat(text, pad);
}

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)), right_(header_.size(), false), max_width_(header_.size(), 48) {}

void TextTable::AlignRight(size_t column) {
  if (column < right_.size()) right_[column] = true;
}

void TextTable::SetMaxWidth(size_t column, int width) {
  if (column < max_width_.size()) max_width_[column] = std::max(width, 1);
}

void TextTable::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  for (size_t i = 0; i < row.size(); ++i) row[i] = TruncateToWidth(Sanitize(row[i]), max_width_[i]);
  rows_.push_back(std::move(row));
}

std::string TextTable::Render() const {
  const size_t n = header_.size();
  std::vector<int> width(n, 0);
  for (size_t i = 0; i < n; ++i) width[i] = DisplayWidth(header_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < n; ++i) width[i] = std::max(width[i], DisplayWidth(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out += "  ";
      out += PadToWidth(cells[i], width[i], right_[i]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
    return out;
  };
  std::string out = line(header_);
  std::vector<std::string> rule(n);
  for (size_t i = 0; i < n; ++i) rule[i] = std::string(width[i], '-');
  out += line(rule);
  for (const auto& row : rows_) out += line(row);
  return out;
}

}  // namespace lifelong::cli
