#include "cli/eval_metrics.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ragd::cli {
namespace {

absl::StatusOr<nlohmann::json> ParseObject(absl::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return j;
}

absl::StatusOr<std::string> NonEmptyString(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": a non-empty string is required"));
  }
  return it->get<std::string>();
}

// A string or an array of strings; `required` makes an absent or empty value an error.
absl::StatusOr<std::vector<std::string>> Strings(const nlohmann::json& j, const char* field,
                                                 bool required) {
  std::vector<std::string> out;
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
    return out;
  }
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& v = (*it)[i];
      if (!v.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "]: must be a string"));
      }
      out.push_back(v.get<std::string>());
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a string or an array of strings"));
  }
  if (required && out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  }
  return out;
}

}  // namespace

absl::StatusOr<EvalQuestion> ParseEvalQuestion(absl::string_view line) {
  absl::StatusOr<nlohmann::json> j = ParseObject(line);
  if (!j.ok()) return j.status();
  EvalQuestion q;
  absl::StatusOr<std::string> id = NonEmptyString(*j, "id");
  if (!id.ok()) return id.status();
  q.id = *std::move(id);
  absl::StatusOr<std::string> question = NonEmptyString(*j, "question");
  if (!question.ok()) return question.status();
  q.question = *std::move(question);
  absl::StatusOr<std::vector<std::string>> expected = Strings(*j, "expected", true);
  if (!expected.ok()) return expected.status();
  q.expected.insert(expected->begin(), expected->end());
  absl::StatusOr<std::vector<std::string>> slices = Strings(*j, "slices", false);
  if (!slices.ok()) return slices.status();
  for (std::string& s : *slices) {
    if (s.empty()) return absl::InvalidArgumentError("slices: empty label");
    if (s == "all") continue;  // every question is in "all" already
    q.slices.push_back(std::move(s));
  }
  return q;
}

absl::StatusOr<ExternalRanking> ParseExternalRanking(absl::string_view line) {
  absl::StatusOr<nlohmann::json> j = ParseObject(line);
  if (!j.ok()) return j.status();
  ExternalRanking r;
  absl::StatusOr<std::string> id = NonEmptyString(*j, "id");
  if (!id.ok()) return id.status();
  r.id = *std::move(id);
  absl::StatusOr<std::vector<std::string>> ranked = Strings(*j, "ranked", false);
  if (!ranked.ok()) return ranked.status();
  r.ranked = *std::move(ranked);
  return r;
}

std::vector<std::string> DistinctInOrder(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const std::string& v : values) {
    if (seen.insert(v).second) out.push_back(v);
  }
  return out;
}

QuestionScore ScoreRanking(const std::vector<std::string>& ranked,
                           const std::set<std::string>& expected, size_t cutoff) {
  QuestionScore s;
  double dcg = 0;
  std::unordered_set<std::string> counted;  // a repeated document counts once
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (!expected.contains(ranked[i]) || !counted.insert(ranked[i]).second) continue;
    const size_t position = i + 1;
    if (s.rank == 0) s.rank = position;
    if (position <= cutoff) dcg += 1.0 / std::log2(static_cast<double>(position) + 1);
  }
  double ideal = 0;
  for (size_t i = 1; i <= std::min(expected.size(), cutoff); ++i) {
    ideal += 1.0 / std::log2(static_cast<double>(i) + 1);
  }
  s.hit1 = s.rank == 1 ? 1 : 0;
  s.hit5 = s.rank >= 1 && s.rank <= 5 ? 1 : 0;
  s.rr = s.rank >= 1 && s.rank <= cutoff ? 1.0 / static_cast<double>(s.rank) : 0;
  s.ndcg = ideal > 0 ? dcg / ideal : 0;
  return s;
}

void SliceScores::Add(const EvalQuestion& question, const QuestionScore& score) {
  auto add = [&](const std::string& slice) {
    SliceScore& sum = sums_[slice];
    ++sum.questions;
    sum.hit1 += score.hit1;
    sum.hit5 += score.hit5;
    sum.mrr += score.rr;
    sum.ndcg += score.ndcg;
  };
  add("all");
  std::set<std::string> once(question.slices.begin(), question.slices.end());
  for (const std::string& slice : once) add(slice);
}

std::vector<std::pair<std::string, SliceScore>> SliceScores::Means() const {
  std::vector<std::pair<std::string, SliceScore>> out;
  auto mean = [](SliceScore s) {
    const double n = static_cast<double>(s.questions);
    s.hit1 /= n;
    s.hit5 /= n;
    s.mrr /= n;
    s.ndcg /= n;
    return s;
  };
  if (auto it = sums_.find("all"); it != sums_.end()) out.emplace_back("all", mean(it->second));
  for (const auto& [slice, sum] : sums_) {
    if (slice != "all") out.emplace_back(slice, mean(sum));
  }
  return out;
}

}  // namespace ragd::cli
