#include "services/demo/demo_cards.h"

#include "absl/strings/str_format.h"
#include "services/demo/demo_district.h"
#include "services/domain/learner_card.h"

namespace lifelong::demo {

std::string DemoCardNumber(int index) {
  std::string d = absl::StrFormat("11010%06d", index);
  return d + domain::LuhnCheckDigit(d);
}

std::string DemoCardPin(uint64_t seed, int index) {
  Rng rng(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(index)) ^ 0xca4dULL);
  for (;;) {
    std::string pin = absl::StrFormat("%06d", static_cast<int>(rng.Next() % 1000000));
    if (!domain::IsWeakPin(pin)) return pin;
  }
}

}  // namespace lifelong::demo
