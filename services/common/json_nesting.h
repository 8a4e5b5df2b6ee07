// How deeply a JSON text nests arrays and objects, found by a lexical scan
// (no parse, no recursion): a guard to run before handing untrusted text to
// a JSON library whose printing or destruction recurses once per level.
#ifndef LIFELONG_SERVICES_COMMON_JSON_NESTING_H_
#define LIFELONG_SERVICES_COMMON_JSON_NESTING_H_

#include "absl/strings/string_view.h"

namespace lifelong {

// Whether `json` nests arrays and objects more than `limit` deep. Brackets
// inside strings (escapes included) do not count; malformed text is left to
// the parser (the scan only counts). Linear in the text.
bool JsonNestsDeeperThan(absl::string_view json, int limit);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_JSON_NESTING_H_
