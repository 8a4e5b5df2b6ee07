#include "services/demo/demo_cards.h"

#include "absl/strings/str_format.h"
#include "services/demo/demo_district.h"

namespace lifelong::demo {
namespace {

char Luhn(const std::string& digits) {
  int sum = 0;
  bool twice = true;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

bool Weak(const std::string& pin) {
  bool same = true, up = true, down = true;
  for (size_t i = 1; i < pin.size(); ++i) {
    same &= pin[i] == pin[0];
    up &= pin[i] == pin[i - 1] + 1;
    down &= pin[i] == pin[i - 1] - 1;
  }
  return same || up || down;
}

}  // namespace

std::string DemoCardNumber(int index) {
  std::string d = absl::StrFormat("11010%06d", index);
  return d + Luhn(d);
}

std::string DemoCardPin(uint64_t seed, int index) {
  Rng rng(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(index)) ^ 0xca4dULL);
  for (;;) {
    std::string pin = absl::StrFormat("%06d", static_cast<int>(rng.Next() % 1000000));
    if (!Weak(pin)) return pin;
  }
}

}  // namespace lifelong::demo
