#include "services/domain/learner_card.h"

namespace lifelong::domain {

char LuhnCheckDigit(absl::string_view digits) {
  int sum = 0;
  bool twice = true;  // the digit next to the check digit is doubled
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

bool IsWeakPin(absl::string_view pin) {
  bool same = true, up = true, down = true;
  for (size_t i = 1; i < pin.size(); ++i) {
    same &= pin[i] == pin[0];
    up &= pin[i] == pin[i - 1] + 1;
    down &= pin[i] == pin[i - 1] - 1;
  }
  return same || up || down;
}

}  // namespace lifelong::domain
