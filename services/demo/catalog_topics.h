// The demo district's course subjects: 16 categories, each with topics that
// are offered as three-level chains (入门 -> 进阶 -> 提高), with the audiences
// they address. Static, immutable data; thread-safe.
#ifndef LIFELONG_SERVICES_DEMO_CATALOG_TOPICS_H_
#define LIFELONG_SERVICES_DEMO_CATALOG_TOPICS_H_

#include <string>
#include <vector>

namespace lifelong::demo {

// Audience bits of a topic.
inline constexpr int kChildren = 1, kTeens = 2, kAdults = 4, kSeniors = 8;
inline constexpr int kAllAges = kChildren | kTeens | kAdults | kSeniors;

struct Topic {
  std::string name;     // "硬笔书法"
  std::string summary;  // one sentence of what is learnt
  int audiences;        // kChildren | ...
  std::vector<std::string> tags;
};

struct Category {
  std::string name;     // catalog category, e.g. "书法"
  double online_share;  // share of offerings that are online
  std::vector<Topic> topics;
};

const std::vector<Category>& Categories();

}  // namespace lifelong::demo

#endif  // LIFELONG_SERVICES_DEMO_CATALOG_TOPICS_H_
