#pragma once
// The document formats ragd loads, by name and by file extension. Defined once here, below
// both the loaders (ingest/loaders) and ragctl, which picks a file's format before it sends it.

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"

namespace ragd {

enum class Format { kText, kMarkdown, kHtml, kPdf, kJsonl };

// "text", "markdown", "html", "pdf", "jsonl".
std::string_view FormatName(Format f);
// Inverse of FormatName. INVALID_ARGUMENT listing the accepted names.
absl::StatusOr<Format> FormatByName(std::string_view name);
// By extension, case-insensitive: .txt .text → text, .md .markdown → markdown, .html .htm →
// html, .pdf → pdf, .jsonl → jsonl. INVALID_ARGUMENT naming the path for anything else.
absl::StatusOr<Format> FormatForPath(const std::filesystem::path& path);

}  // namespace ragd
