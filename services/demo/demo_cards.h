// Learner cards of the demo district: learner u000042 holds card
// 11010 000042 c (c the Luhn check digit; services/records/learner_cards.h)
// with a 6-digit PIN drawn from the district's seed. Pure functions: the
// same seed gives the same cards and PINs on any machine, so a demo (and
// the browser tests, through the file the loader writes) can sign in at a
// kiosk with a card. Demo data only: anyone with the seed knows every PIN.
#ifndef LIFELONG_SERVICES_DEMO_DEMO_CARDS_H_
#define LIFELONG_SERVICES_DEMO_DEMO_CARDS_H_

#include <cstdint>
#include <string>

namespace lifelong::demo {

// The card number of learner `index` (1..999999): "11010", the index in 6
// digits, the Luhn check digit.
std::string DemoCardNumber(int index);

// The PIN of that card: 6 digits, not one digit repeated and not a run.
std::string DemoCardPin(uint64_t seed, int index);

}  // namespace lifelong::demo

#endif  // LIFELONG_SERVICES_DEMO_DEMO_CARDS_H_
