#pragma once
// Shared by http_client.cc and http_client_stream.cc only (includes curl; not a public header).

#include <curl/curl.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ragd::models::internal {

// The request headers of a JSON POST: content type, `accept`, the caller's headers, and an
// empty "Expect:" (without it curl waits up to a second for "100 Continue" before sending a
// body over 1 MiB). The caller frees the list with curl_slist_free_all.
inline curl_slist* JsonPostHeaders(
    const char* accept, const std::vector<std::pair<std::string, std::string>>& headers) {
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, absl::StrCat("Accept: ", accept).c_str());
  list = curl_slist_append(list, "Expect:");
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  return list;
}

}  // namespace ragd::models::internal
