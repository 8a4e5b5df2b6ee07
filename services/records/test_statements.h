// Test helper: builds valid xAPI statements of the district's vocabulary.
#ifndef LIFELONG_SERVICES_RECORDS_TEST_STATEMENTS_H_
#define LIFELONG_SERVICES_RECORDS_TEST_STATEMENTS_H_

#include <string>
#include <vector>

namespace lifelong::records::testing {

struct StatementSpec {
  std::string id;  // empty: no id (the store assigns one)
  std::string learner = "u1";
  std::string verb = "completed";  // registered|attended|completed|passed|failed|experienced|voided
  std::string course = "c1";       // course id; for "voided": the target statement id
  std::string title = "书法入门";
  std::string timestamp;  // RFC 3339; empty: none
  std::string registration;
  double credits = -1;  // < 0: absent
  double hours = -1;
  std::string mode;  // online|offline
  std::string xuequ;
  std::string platform;
  std::string venue;  // context extension vocab::kExtVenue
  // Non-empty: the actor is a Group with these members (district accounts),
  // identified by the account `learner`, or anonymous when `learner` is "".
  std::vector<std::string> group;
};

std::string MakeStatement(const StatementSpec& spec);

// A distinct, valid UUID for integer n.
std::string TestUuid(int n);

}  // namespace lifelong::records::testing

#endif  // LIFELONG_SERVICES_RECORDS_TEST_STATEMENTS_H_
