#include "services/common/utf8.h"

namespace lifelong::utf8 {

Decoded Decode(absl::string_view text, size_t pos) {
  if (pos >= text.size()) return {};
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t available = text.size() - pos;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1};
  // The lead byte fixes the length and the range allowed for the second
  // byte, which is where overlong forms, surrogates and code points above
  // U+10FFFF show (Table 3-7); later bytes are plain continuation bytes.
  size_t size;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    size = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    size = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    size = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong below U+10000
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {};  // continuation byte, 0xC0, 0xC1, 0xF5..0xFF
  }
  if (available < size) return {};
  if (p[1] < lo || p[1] > hi) return {};
  cp = (cp << 6) | (p[1] & 0x3F);
  for (size_t k = 2; k < size; ++k) {
    if ((p[k] & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  return {cp, size};
}

size_t FirstInvalidByte(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const Decoded d = Decode(text, pos);
    if (!d.ok()) return pos;
    pos += d.size;
  }
  return absl::string_view::npos;
}

}  // namespace lifelong::utf8
