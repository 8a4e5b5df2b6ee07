#include "services/catalog/catalog_log.h"

namespace lifelong::catalog {

absl::string_view CatalogLogEntryName(CatalogLogEntry kind) {
  switch (kind) {
    case CatalogLogEntry::kInit:
      return "init";
    case CatalogLogEntry::kCourse:
      return "course";
    case CatalogLogEntry::kProgramme:
      return "programme";
  }
  return "unknown";
}

}  // namespace lifelong::catalog
