// Learner-card numbers and PINs as the district issues them (docs/security.md
// "Learner cards"): 12 digits, the last a Luhn check digit; PINs of 4 to 6
// digits that are not one digit repeated or a run (1234, 9876). The record
// service's card store and the demo district's card generator share these.
#ifndef LIFELONG_SERVICES_DOMAIN_LEARNER_CARD_H_
#define LIFELONG_SERVICES_DOMAIN_LEARNER_CARD_H_

#include "absl/strings/string_view.h"

namespace lifelong::domain {

// The Luhn check digit ('0'..'9') that follows `digits` (ASCII digits only).
char LuhnCheckDigit(absl::string_view digits);

// True when `pin` (digits) is one digit repeated or an ascending or
// descending run: too easy to guess.
bool IsWeakPin(absl::string_view pin);

}  // namespace lifelong::domain

#endif  // LIFELONG_SERVICES_DOMAIN_LEARNER_CARD_H_
