// PDF through libpoppler-cpp: the text of every page in reading order, pages separated by a
// blank line and recorded as PageSpans so that every chunk can cite its page.

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>
#include <new>

#include "common/status.h"
#include "ingest/loaders/loader_util.h"

namespace ragd::ingest::internal {
namespace {

std::string ToUtf8(const poppler::ustring& s) {
  poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// Poppler reports recoverable syntax problems on stderr; for a service those are noise (the
// outcome is reported per document), so they are silenced once for the process.
void SilencePoppler() {
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

class PdfLoader final : public DocumentLoader {
 public:
  Format format() const override { return Format::kPdf; }
  std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                             const SourceInfo& source) const override {
    std::vector<absl::StatusOr<Document>> out;
    try {
      out.push_back(LoadPdf(content, source));
    } catch (const std::bad_alloc&) {
      out.push_back(absl::ResourceExhaustedError(source.name + ": out of memory reading PDF"));
    } catch (const std::exception& e) {
      out.push_back(absl::InvalidArgumentError(source.name + ": PDF error: " + e.what()));
    }
    return out;
  }

 private:
  static absl::StatusOr<Document> LoadPdf(std::string_view content, const SourceInfo& source) {
    SilencePoppler();
    if (content.size() > static_cast<size_t>(INT_MAX)) {
      return absl::InvalidArgumentError(source.name + ": PDF larger than 2 GiB");
    }
    std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(content.data(), static_cast<int>(content.size())));
    if (pdf == nullptr) {
      return absl::InvalidArgumentError(source.name + ": not a readable PDF");
    }
    if (pdf->is_locked()) {
      return absl::InvalidArgumentError(source.name + ": PDF is encrypted");
    }
    Document doc = NewDocument(source, Format::kPdf);
    doc.title = std::string(TrimAscii(ToUtf8(pdf->get_title())));
    const int pages = pdf->pages();
    for (int i = 0; i < pages; ++i) {
      std::unique_ptr<poppler::page> page(pdf->create_page(i));
      if (page == nullptr) continue;
      std::string text = ToUtf8(page->text());
      // Poppler ends lines with "\n" but may emit "\r\n" or form feeds between blocks.
      std::string clean;
      clean.reserve(text.size());
      for (char c : text) {
        if (c == '\r') continue;
        clean.push_back(c == '\f' ? '\n' : c);
      }
      std::string_view t = TrimAscii(clean);
      if (t.empty()) continue;
      if (!doc.text.empty()) doc.text += "\n\n";
      PageSpan span;
      span.begin = doc.text.size();
      doc.text += t;
      span.end = doc.text.size();
      span.page = i + 1;
      doc.pages.push_back(span);
    }
    RETURN_IF_ERROR(CheckUtf8(doc.text, source.name + " (extracted text)"));
    return FinishDocument(std::move(doc), source);
  }
};

}  // namespace

std::unique_ptr<DocumentLoader> NewPdfLoader() { return std::make_unique<PdfLoader>(); }

}  // namespace ragd::ingest::internal
