#include "models/chat_model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "models/local_chat_model.h"
#include "models/openai_chat_model.h"

namespace ragd::models {

std::string_view ChatRoleName(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem:
      return "system";
    case ChatRole::kUser:
      return "user";
    case ChatRole::kAssistant:
      return "assistant";
  }
  return "user";
}

absl::StatusOr<std::unique_ptr<ChatModel>> MakeChatModel(const ModelDeployment& deployment) {
  if (absl::Status s = deployment.Validate(); !s.ok()) return s;
  switch (deployment.provider) {
    case ChatProvider::kLocal:
      return std::unique_ptr<ChatModel>(std::make_unique<LocalChatModel>(deployment));
    case ChatProvider::kAzureOpenAi:
    case ChatProvider::kOpenAi: {
      auto model = OpenAiChatModel::Create(deployment);
      if (!model.ok()) return model.status();
      return std::unique_ptr<ChatModel>(std::move(*model));
    }
  }
  return absl::InternalError("unknown chat provider");
}

size_t CountChatPromptTokens(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages) {
  size_t total = kTokensReplyPriming;
  for (const ChatMessage& m : messages) {
    total += kTokensPerMessage + tokenizer.Count(ChatRoleName(m.role)) + tokenizer.Count(m.content);
  }
  return total;
}

size_t PromptTokensOf(const Tokenizer& tokenizer, const ChatRequest& request) {
  if (request.prompt_tokens) return *request.prompt_tokens;
  return CountChatPromptTokens(tokenizer, request.messages);
}

double EstimateCostUsd(const ModelDeployment& deployment, const ChatUsage& usage) {
  return static_cast<double>(usage.prompt_tokens) / 1000.0 * deployment.price_per_1k_input +
         static_cast<double>(usage.completion_tokens) / 1000.0 * deployment.price_per_1k_output;
}

absl::Status ValidateChatRequest(const ModelDeployment& deployment, const ChatRequest& request) {
  if (request.messages.empty()) return absl::InvalidArgumentError("chat request has no messages");
  for (size_t i = 0; i < request.messages.size(); ++i) {
    if (!IsValidUtf8(request.messages[i].content)) {
      return absl::InvalidArgumentError(absl::StrCat("message ", i, " is not valid UTF-8"));
    }
  }
  if (request.temperature && !(*request.temperature >= 0 && *request.temperature <= 2)) {
    return absl::InvalidArgumentError("temperature must be in [0, 2]");
  }
  if (request.top_p && !(*request.top_p > 0 && *request.top_p <= 1)) {
    return absl::InvalidArgumentError("top_p must be in (0, 1]");
  }
  if (request.max_output_tokens && (*request.max_output_tokens == 0 ||
                                    *request.max_output_tokens > deployment.max_output_tokens)) {
    return absl::InvalidArgumentError(absl::StrCat("max_output_tokens must be in [1, ",
                                                   deployment.max_output_tokens, "] for '",
                                                   deployment.name, "'"));
  }
  if (request.stop.size() > 4) return absl::InvalidArgumentError("at most 4 stop sequences");
  for (const std::string& s : request.stop) {
    if (s.empty() || !IsValidUtf8(s)) {
      return absl::InvalidArgumentError("stop sequences must be non-empty UTF-8");
    }
  }
  return absl::OkStatus();
}

}  // namespace ragd::models
