// Terminal text layout for the `lifelong` CLI: display width of UTF-8 text
// (East Asian wide and fullwidth characters take two columns, combining marks
// none) and plain-text tables whose columns line up with Chinese text.
//
// Pure functions and a value type; thread-compatible.
#ifndef LIFELONG_SERVICES_CLI_TEXT_TABLE_H_
#define LIFELONG_SERVICES_CLI_TEXT_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::cli {

// Columns one code point takes on a terminal: 2 for East Asian Wide and
// Fullwidth characters (CJK ideographs, kana, hangul, fullwidth forms, CJK
// punctuation such as "，" and "。"), 0 for combining marks, zero-width
// characters and controls, 1 otherwise.
int CodePointWidth(char32_t cp);

// Display width of UTF-8 `text`. Invalid bytes count one column each.
int DisplayWidth(absl::string_view text);

// `text` cut to at most `max_width` columns, ending in "..." when cut (never
// splitting a code point; a wide character that does not fit is left out).
// `max_width` < 4 cuts without the ellipsis.
std::string TruncateToWidth(absl::string_view text, int max_width);

// `text` padded with spaces on the right (or left when `right_align`) to
// `width` columns; unchanged when already that wide or wider.
std::string PadToWidth(absl::string_view text, int width, bool right_align = false);

// A table of rows under a header, rendered with columns separated by two
// spaces and a dashed rule under the header:
//
//   ID      TITLE         CREDITS
//   ------  ------------  -------
//   c00001  硬笔书法入门      1.5
//
// Cells are cut (TruncateToWidth) to the column's maximum width; columns
// marked right-aligned (numbers) are padded on the left. Newlines and tabs in
// cells are shown as spaces.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);

  // Marks column `column` as right-aligned.
  void AlignRight(size_t column);
  // Limits column `column` to `width` columns (default 48).
  void SetMaxWidth(size_t column, int width);
  // Appends a row; missing cells are empty, extra cells are dropped.
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }

  // The rendered table, each line ending in '\n', no trailing spaces.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<int> max_width_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_TEXT_TABLE_H_
