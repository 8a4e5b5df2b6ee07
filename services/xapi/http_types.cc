#include "services/xapi/http_types.h"

namespace lifelong::xapi {

std::string HttpRequest::Param(const std::string& name, bool* found) const {
  auto it = params.find(name);
  if (found) *found = it != params.end();
  return it == params.end() ? "" : it->second;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

void HttpResponse::SetHeader(const std::string& name, const std::string& value) {
  for (auto& [k, v] : headers) {
    if (k == name) {
      v = value;
      return;
    }
  }
  headers.emplace_back(name, value);
}

}  // namespace lifelong::xapi
