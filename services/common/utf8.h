// Strict UTF-8 decoding, one code point at a time: the one decoder that text
// validation (catalog), learner keys (domain), statement building and
// terminal layout (cli) share.
//
// Well-formed means Unicode's Table 3-7: a sequence is 1 to 4 bytes encoding
// a scalar value (U+0000..U+10FFFF, surrogates U+D800..U+DFFF excluded) in
// its shortest form. Not well-formed: a continuation byte (0x80..0xBF) or
// 0xC0, 0xC1, 0xF5..0xFF where a sequence begins; an overlong form; a
// surrogate; a code point above U+10FFFF; a sequence cut short by the end of
// the text or by a byte that is not a continuation byte.
//
// Pure functions; thread-safe.
#ifndef LIFELONG_SERVICES_COMMON_UTF8_H_
#define LIFELONG_SERVICES_COMMON_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace lifelong::utf8 {

// One decoded sequence: `size` bytes (1..4) that encode `code_point`, or
// size 0 (and code_point 0) where the bytes are not well-formed.
struct Decoded {
  char32_t code_point = 0;
  size_t size = 0;

  bool ok() const { return size != 0; }
};

// Decodes the sequence that begins at text[pos]. Not ok when text[pos] does
// not begin a well-formed sequence, and when pos >= text.size(). Never reads
// outside `text`. A caller that goes on past an invalid byte advances one
// byte (each byte of a bad sequence is then judged on its own).
Decoded Decode(absl::string_view text, size_t pos);

// The offset of the first byte of `text` that does not begin a well-formed
// sequence (for "ab\xE4\xB9", 2: the lead byte of the truncated sequence),
// or absl::string_view::npos when all of `text` is well-formed UTF-8.
size_t FirstInvalidByte(absl::string_view text);

}  // namespace lifelong::utf8

#endif  // LIFELONG_SERVICES_COMMON_UTF8_H_
