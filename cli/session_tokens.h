#pragma once
// SessionTokens: ragctl's read-your-writes memory for cluster mode's SESSION reads (README
// "Cluster mode"). After each write ragctl records the response's `sequence` (the write's
// consistency token) per server address and collection in a small JSON file; a later read of
// that collection through the same address sends it with READ_CONSISTENCY_SESSION, so that
// whichever pod answers has applied the write first. The file is
// $RAGCTL_STATE_DIR/tokens.json, else $XDG_STATE_HOME/ragctl/tokens.json, else
// ~/.local/state/ragctl/tokens.json. Best effort: a file that cannot be read or written only
// costs the automatic token (a warning is the caller's choice), never a command.
//
// Thread safety: none (one ragctl process; concurrent ragctl processes may lose an update,
// which only weakens that process's next read to the older token).

#include <cstdint>
#include <optional>
#include <string>

namespace ragd::cli {

// The file path as described above; empty when no directory can be determined.
std::string DefaultSessionTokenPath();

// The last token recorded for (address, collection), if any.
std::optional<uint64_t> LoadSessionToken(const std::string& path, const std::string& address,
                                         const std::string& collection);

// Records `sequence` for (address, collection) unless a larger one is recorded (the newest
// write wins). False when the file could not be written.
bool SaveSessionToken(const std::string& path, const std::string& address,
                      const std::string& collection, uint64_t sequence);

}  // namespace ragd::cli
