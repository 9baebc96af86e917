// HTML through libgumbo (an HTML5-conformant parser: it recovers from broken markup the way
// browsers do and decodes character references). Only text a reader would see is kept:
// script, style, noscript, template and hidden elements are dropped; block elements become
// paragraph breaks; whitespace collapses as in rendering, except inside <pre>.

#include <gumbo.h>

#include <algorithm>

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest::internal {
namespace {

enum Break { kNone = 0, kSpace = 1, kNewline = 2, kParagraph = 3 };

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Accumulates rendered text; separators are deferred so that runs of breaks collapse into the
// strongest one and nothing trails at the end.
class TextBuilder {
 public:
  void Text(std::string_view s, bool preformatted) {
    if (preformatted) {
      if (s.empty()) return;
      Flush();
      out_.append(s);
      trailing_ = s.back() == '\n' ? kNewline : kNone;
      return;
    }
    for (char c : s) {
      if (IsAsciiSpace(c)) {
        pending_ = std::max(pending_, kSpace);
      } else {
        Flush();
        out_.push_back(c);
        trailing_ = kNone;
      }
    }
  }
  void Separate(Break b) { pending_ = std::max(pending_, b); }
  // Emits the pending separator now and returns where the next text will start.
  size_t Mark() {
    Flush();
    return out_.size();
  }
  std::string& out() { return out_; }

 private:
  void Flush() {
    if (out_.empty()) {
      pending_ = kNone;
      return;
    }
    if (pending_ > trailing_) {
      if (pending_ == kSpace) {
        out_.push_back(' ');
      } else {
        out_.append(pending_ == kParagraph && trailing_ == kNewline ? "\n"
                    : pending_ == kParagraph                        ? "\n\n"
                                                                    : "\n");
      }
      trailing_ = pending_;
    }
    pending_ = kNone;
  }

  std::string out_;
  Break pending_ = kNone;
  Break trailing_ = kNone;
};

bool IsDropped(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_SVG:
      return true;
    default:
      return false;
  }
}

Break BreakAround(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_BR:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_OPTION:
      return kNewline;
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH:
      return kSpace;
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_CAPTION:
      return kParagraph;
    default:
      return kNone;
  }
}

int HeadingLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1:
      return 1;
    case GUMBO_TAG_H2:
      return 2;
    case GUMBO_TAG_H3:
      return 3;
    case GUMBO_TAG_H4:
      return 4;
    case GUMBO_TAG_H5:
      return 5;
    case GUMBO_TAG_H6:
      return 6;
    default:
      return 0;
  }
}

// Collapses whitespace runs to one space and trims: heading and title text as a reader sees it.
std::string Collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (IsAsciiSpace(c)) {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
  }
  return out;
}

// The text of <title>, found anywhere (gumbo puts it in <head>, which the walk drops).
std::string FindTitle(const GumboNode* root) {
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT) continue;
    const GumboVector& kids =
        n->type == GUMBO_NODE_DOCUMENT ? n->v.document.children : n->v.element.children;
    if (n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == GUMBO_TAG_TITLE) {
      std::string t;
      for (unsigned i = 0; i < kids.length; ++i) {
        const auto* k = static_cast<const GumboNode*>(kids.data[i]);
        if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE) t += k->v.text.text;
      }
      return Collapse(t);
    }
    for (unsigned i = kids.length; i > 0; --i) {
      stack.push_back(static_cast<const GumboNode*>(kids.data[i - 1]));
    }
  }
  return {};
}

// One step of the iterative walk (no recursion: nesting depth is attacker-controlled).
struct Step {
  const GumboNode* node;
  bool exit;
  size_t heading_begin;
};

class HtmlLoader final : public DocumentLoader {
 public:
  Format format() const override { return Format::kHtml; }
  std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                             const SourceInfo& source) const override {
    std::vector<absl::StatusOr<Document>> out;
    if (absl::Status s = CheckUtf8(content, source.name); !s.ok()) {
      out.push_back(s);
      return out;
    }
    GumboOutput* parsed =
        gumbo_parse_with_options(&kGumboDefaultOptions, content.data(), content.size());
    if (parsed == nullptr) {
      out.push_back(absl::InvalidArgumentError(source.name + ": HTML parser failed"));
      return out;
    }
    Document doc = NewDocument(source, Format::kHtml);
    doc.title = FindTitle(parsed->document);

    TextBuilder text;
    SectionBuilder sections;
    std::string first_h1;
    int pre_depth = 0;
    std::vector<Step> stack{{parsed->document, false, 0}};
    while (!stack.empty()) {
      Step step = stack.back();
      stack.pop_back();
      const GumboNode* n = step.node;
      switch (n->type) {
        case GUMBO_NODE_TEXT:
        case GUMBO_NODE_CDATA:
        case GUMBO_NODE_WHITESPACE:
          text.Text(n->v.text.text, pre_depth > 0);
          break;
        case GUMBO_NODE_DOCUMENT:
          for (unsigned i = n->v.document.children.length; i > 0; --i) {
            stack.push_back(
                {static_cast<const GumboNode*>(n->v.document.children.data[i - 1]), false, 0});
          }
          break;
        case GUMBO_NODE_ELEMENT: {
          const GumboElement& e = n->v.element;
          const int level = HeadingLevel(e.tag);
          if (step.exit) {
            text.Separate(BreakAround(e.tag));
            if (e.tag == GUMBO_TAG_PRE) --pre_depth;
            if (level > 0) {
              std::string h = Collapse(std::string_view(text.out()).substr(step.heading_begin));
              if (!h.empty()) {
                if (level == 1 && first_h1.empty()) first_h1 = h;
                sections.OnHeading(level, std::move(h), step.heading_begin);
              }
            }
            break;
          }
          if (IsDropped(e.tag) || gumbo_get_attribute(&e.attributes, "hidden") != nullptr) {
            break;
          }
          text.Separate(BreakAround(e.tag));
          if (e.tag == GUMBO_TAG_PRE) ++pre_depth;
          stack.push_back({n, true, level > 0 ? text.Mark() : 0});
          for (unsigned i = e.children.length; i > 0; --i) {
            stack.push_back({static_cast<const GumboNode*>(e.children.data[i - 1]), false, 0});
          }
          break;
        }
        case GUMBO_NODE_COMMENT:
        case GUMBO_NODE_TEMPLATE:
          break;
      }
    }
    gumbo_destroy_output(&kGumboDefaultOptions, parsed);

    doc.text = std::move(text.out());
    doc.sections = sections.Finish(doc.text.size());
    if (doc.title.empty()) doc.title = first_h1;
    out.push_back(FinishDocument(std::move(doc), source));
    return out;
  }
};

}  // namespace

std::unique_ptr<DocumentLoader> NewHtmlLoader() { return std::make_unique<HtmlLoader>(); }

}  // namespace ragd::ingest::internal
