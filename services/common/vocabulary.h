// Deprecated forwarding header, kept only so that branches written before the
// move still compile while they merge: the vocabulary is
// services/domain/vocabulary.h (target //services/domain:vocabulary). Nothing
// in the tree includes this any more; delete it once those branches are merged.
#ifndef LIFELONG_SERVICES_COMMON_VOCABULARY_H_
#define LIFELONG_SERVICES_COMMON_VOCABULARY_H_

#include "services/domain/vocabulary.h"

#endif  // LIFELONG_SERVICES_COMMON_VOCABULARY_H_
