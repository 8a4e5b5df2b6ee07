// Library-neutral HTTP request/response values: the xAPI handler works on
// these, so its logic is tested without sockets and the HTTP library stays
// at the edge (xapi_http_server.cc).
#ifndef LIFELONG_SERVICES_XAPI_HTTP_TYPES_H_
#define LIFELONG_SERVICES_XAPI_HTTP_TYPES_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lifelong::xapi {

struct HttpRequest {
  std::string method;                              // "GET", "PUT", "POST", "HEAD", "DELETE"
  std::string path;                                // below the base path, e.g. "/statements"
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::map<std::string, std::string> headers;      // names lower-case
  std::string body;

  // The first value of `name`, or "" (and `found` false).
  std::string Param(const std::string& name, bool* found = nullptr) const;
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;

  void SetHeader(const std::string& name, const std::string& value);
};

// Decodes application/x-www-form-urlencoded text (also a URL's query string):
// '+' is a space, %XX a byte; malformed escapes are kept literally.
std::multimap<std::string, std::string> ParseFormUrlEncoded(const std::string& text);

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_HTTP_TYPES_H_
