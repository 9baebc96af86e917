#pragma once
// Private to services/http: what every route of the HTTP front does the same way, shared by the
// OpenAI routes (http_server.cc) and the playground's (playground.cc): the key check against the
// method table's roles, and OpenAI's error JSON / a JSON body as the response.

#include <httplib.h>

#include <string_view>

#include "absl/status/status.h"
#include "services/api/methods.h"
#include "services/http/http_server.h"
#include "services/http/openai_wire_internal.h"

namespace ragd::services::http_internal {

// The prologue of every route: the caller's key against the method table's role for `method`
// (one rate-limit token), and the collection's scope and shape when the call names one
// (INVALID_ARGUMENT naming `collection_field`).
absl::Status Admit(const HttpFrontResources& r, const httplib::Request& req, Method method,
                   std::string_view collection,
                   std::string_view collection_field = "collection");
// The key's scope alone, spending no token: whether a listing may show `collection`.
absl::Status InScope(const HttpFrontResources& r, const httplib::Request& req, Method method,
                     std::string_view collection);

// OpenAI's error JSON with the HTTP status of `status` (Retry-After on 429 and 503); the code
// is recorded for the access log and metrics.
void SendError(httplib::Response& res, const absl::Status& status);
void SendJson(httplib::Response& res, const Json& json);

}  // namespace ragd::services::http_internal
