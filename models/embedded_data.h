#pragma once
// The rank tables of models/data, linked into the binary (embedded_data.cc), internal to
// models/. Static storage: the views are valid for the life of the program.

#include <string_view>

namespace ragd::models::internal {

std::string_view Cl100kBaseRanks();
std::string_view O200kBaseRanks();

}  // namespace ragd::models::internal
