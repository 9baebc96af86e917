#pragma once
// Identifiers ragd makes up. Header of common/ so that ragctl names a job before it starts
// the stream (and polls its progress) with the same format as the server.

#include <string>

namespace ragd {

// A new job id: "job-" + UTC time (yyyymmdd-hhmmss) + "-" + 8 random hex digits, so that ids
// sort by start time.
std::string NewJobId();

}  // namespace ragd
