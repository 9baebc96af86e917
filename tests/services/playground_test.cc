// The playground (services/http/playground*, README "Playground") against the real binary and
// the fake chat server:
// - PlaygroundApiTest: its JSON endpoints (collections, search, documents, upload) and static
//   files over plain HTTP, with the errors a bad request or a wrong key gets.
// - PlaygroundBrowserTest: the page in headless Chromium driven by puppeteer-core
//   (tests/services/node/playground_test.mjs): search in every mode, a chunk opened in its
//   document, an answer streaming in with clickable citations, two models compared (their
//   charts' data checked against the runs), two files dropped onto the page. Screenshots go
//   to the build tree (tests/playground-artifacts). puppeteer-core is installed into the build
//   tree by the CTest fixture playground_browser_install; without it, or without
//   /usr/bin/chromium, the test fails with a message saying so, it does not skip.

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_split.h"
#include "tests/services/http_test_util.h"

namespace ragd::testing {
namespace {

constexpr char kAdminKey[] = "admin-secret-7a6b5c";
constexpr char kReaderKey[] = "reader-secret-2d3e4f";
constexpr char kScopedKey[] = "scoped-secret-8f9e0d";
constexpr char kMini[] = "azure-gpt4o-mini";

std::string AuthYaml(const TempDir& keys) {
  return absl::StrCat("auth:\n  api_keys:\n    - {name: ops, role: admin, key_file: ",
                      WriteFile(keys, "admin.key", kAdminKey),
                      "}\n    - {name: viewer, role: reader, key_file: ",
                      WriteFile(keys, "reader.key", kReaderKey),
                      "}\n    - {name: scoped, role: reader, collections: [other], key_file: ",
                      WriteFile(keys, "scoped.key", kScopedKey), "}\n");
}

// A second deployment on the fake at gpt-4o-mini's list prices (cheaper than kAzure's gpt-4o).
std::string MiniDeploymentYaml() {
  return absl::StrCat(AzureDeploymentYaml(kMini, "{endpoint}"), "      model: gpt-4o-mini\n");
}

HttpResult Upload(int port, const std::string& name, const std::string& body,
                  const std::string& key) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + key}};
  httplib::Result r =
      client.Post(absl::StrCat("/v1/ragd/collections/", kCollection, "/files?name=", name).c_str(),
                  headers, body, "application/octet-stream");
  HttpResult out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.json = Json::parse(out.body, nullptr, false);
  return out;
}

std::string ErrorMessage(const HttpResult& r) {
  return r.json.is_object() && r.json.contains("error") ? r.json["error"].value("message", "")
                                                         : r.body;
}

TEST(PlaygroundApiTest, EndpointsAnswerAndRefuseBadRequestsClearly) {
  TempDir keys;
  auto stack = HttpStack::Start(AuthYaml(keys), kAdminKey);
  ASSERT_TRUE(stack.ok()) << stack.status();
  const int port = (*stack)->ragd->http_port();

  // The page and its files need no key; they carry a policy that keeps scripts to this origin.
  HttpResult page = Call(port, "GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>ragd playground</title>"), std::string::npos);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  HttpResult script = Call(port, "GET", "/playground/app.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script.body.find("streamAnswer"), std::string::npos);
  HttpResult missing = Call(port, "GET", "/playground/nothing.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json["error"]["code"], "not_found") << missing.body;

  // Collections: a key is needed; a scoped key sees only its collections.
  EXPECT_EQ(Call(port, "GET", "/v1/ragd/collections").status, 401);
  HttpResult listed = Call(port, "GET", "/v1/ragd/collections", "", kReaderKey);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json["data"].size(), 1u);
  EXPECT_EQ(listed.json["data"][0]["name"], kCollection);
  EXPECT_EQ(listed.json["data"][0]["dimension"], 1536);
  EXPECT_EQ(listed.json["data"][0]["lexical"], true);
  EXPECT_GT(listed.json["data"][0]["points"].get<int>(), 0);
  HttpResult scoped = Call(port, "GET", "/v1/ragd/collections", "", kScopedKey);
  ASSERT_EQ(scoped.status, 200);
  EXPECT_TRUE(scoped.json["data"].empty()) << scoped.body;

  // Search in each mode: hits in the citation shape, best first.
  for (const char* mode : {"vector", "text", "hybrid"}) {
    Json body = {{"collection", kCollection}, {"query", kQuestion}, {"mode", mode}, {"k", 3}};
    HttpResult found = Call(port, "POST", "/v1/ragd/search", body.dump(), kReaderKey);
    ASSERT_EQ(found.status, 200) << mode << ": " << found.body;
    EXPECT_EQ(found.json["mode"], mode);
    ASSERT_EQ(found.json["data"].size(), 3u) << mode;
    const Json& hit = found.json["data"][0];
    EXPECT_FALSE(hit["content"].get<std::string>().empty());
    EXPECT_FALSE(hit["document_id"].get<std::string>().empty());
    EXPECT_EQ(hit["chunk_id"].get<std::string>().rfind(hit["document_id"].get<std::string>(), 0),
              0u);
    EXPECT_GE(hit["score"].get<double>(), found.json["data"][2]["score"].get<double>());
  }
  struct Bad {
    std::string body;
    int status;
    std::string says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"{not json", 400, "not valid JSON"},
           {"[1, 2]", 400, "JSON object"},
           {Json{{"query", "x"}}.dump(), 400, "collection"},
           {Json{{"collection", kCollection}, {"query", ""}}.dump(), 400, "query"},
           {Json{{"collection", kCollection}, {"query", "x"}, {"mode", "fuzzy"}}.dump(), 400,
            "mode"},
           {Json{{"collection", kCollection}, {"query", "x"}, {"k", 0}}.dump(), 400, "k:"},
           {Json{{"collection", kCollection}, {"query", "x"}, {"k", "many"}}.dump(), 400, "k:"},
           {Json{{"collection", "no such"}, {"query", "x"}}.dump(), 400, "collection"},
           {Json{{"collection", "absent"}, {"query", "x"}}.dump(), 404, "absent"},
       }) {
    HttpResult r = Call(port, "POST", "/v1/ragd/search", bad.body, kReaderKey);
    EXPECT_EQ(r.status, bad.status) << bad.body << " -> " << r.body;
    EXPECT_NE(ErrorMessage(r).find(bad.says), std::string::npos) << bad.body << " -> " << r.body;
  }
  // The key comes first: without one, a bad body is still a 401.
  EXPECT_EQ(Call(port, "POST", "/v1/ragd/search", "{not json").status, 401);
  Json scoped_search = {{"collection", kCollection}, {"query", "x"}};
  EXPECT_EQ(Call(port, "POST", "/v1/ragd/search", scoped_search.dump(), kScopedKey).status, 403);

  // A document, chunk by chunk in order; slashes and %-escapes in ids work.
  Json any = {{"collection", kCollection}, {"query", kQuestion}, {"k", 1}};
  std::string doc_id =
      Call(port, "POST", "/v1/ragd/search", any.dump(), kReaderKey).json["data"][0]["document_id"];
  HttpResult doc =
      Call(port, "GET", absl::StrCat("/v1/ragd/collections/", kCollection, "/documents/", doc_id),
           "", kReaderKey);
  ASSERT_EQ(doc.status, 200) << doc.body;
  EXPECT_EQ(doc.json["id"], doc_id);
  ASSERT_FALSE(doc.json["chunks"].empty());
  for (size_t i = 0; i < doc.json["chunks"].size(); ++i) {
    EXPECT_EQ(doc.json["chunks"][i]["ordinal"], i);
    EXPECT_FALSE(doc.json["chunks"][i].contains("score"));
  }
  EXPECT_EQ(Call(port, "GET",
                 absl::StrCat("/v1/ragd/collections/", kCollection, "/documents/nope%2Fnothing.md"),
                 "", kReaderKey)
                .status,
            404);

  // Uploads: writers only; the extension picks the loader; the result counts chunks.
  const std::string text = "# Upload\n\nA file sent by the playground API test: zebra marker.\n";
  EXPECT_EQ(Upload(port, "up.md", text, kReaderKey).status, 403);
  HttpResult up = Upload(port, "dir%2Fup.md", text, kAdminKey);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.json["format"], "markdown");
  ASSERT_EQ(up.json["documents"].size(), 1u);
  EXPECT_EQ(up.json["documents"][0]["id"], "dir/up.md");
  EXPECT_EQ(up.json["documents"][0]["outcome"], "ok");
  EXPECT_GE(up.json["chunks"].get<int>(), 1);
  // The same bytes again: nothing changed, nothing re-embedded.
  HttpResult again = Upload(port, "dir%2Fup.md", text, kAdminKey);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json["documents"][0]["outcome"], "skipped");
  HttpResult stored =
      Call(port, "GET", absl::StrCat("/v1/ragd/collections/", kCollection, "/documents/dir/up.md"),
           "", kReaderKey);
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_NE(stored.json["chunks"][0]["content"].get<std::string>().find("zebra marker"),
            std::string::npos);
  HttpResult unknown = Upload(port, "notes.xyz", "text", kAdminKey);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(ErrorMessage(unknown).find("unknown format"), std::string::npos) << unknown.body;
  HttpResult unnamed = Upload(port, "", "text", kAdminKey);
  EXPECT_EQ(unnamed.status, 400);
  EXPECT_NE(ErrorMessage(unnamed).find("name"), std::string::npos) << unnamed.body;
  HttpResult bad_utf8 = Upload(port, "bad.txt", "caf\xC3", kAdminKey);
  ASSERT_EQ(bad_utf8.status, 200) << bad_utf8.body;  // a per-document failure, in the result
  EXPECT_EQ(bad_utf8.json["failed"], 1);
  EXPECT_EQ(bad_utf8.json["documents"][0]["outcome"], "failed");
  EXPECT_FALSE(bad_utf8.json["documents"][0]["error"].get<std::string>().empty());
}

TEST(PlaygroundBrowserTest, SearchAskCompareAndIngestInChromium) {
  const std::filesystem::path node_dir = PLAYGROUND_NODE_DIR;
  ASSERT_TRUE(std::filesystem::exists(node_dir / "node_modules/puppeteer-core/package.json"))
      << "puppeteer-core is not installed in " << node_dir
      << ": the CTest fixture playground_browser_install (npm install --prefix " << node_dir
      << " puppeteer-core@" << PUPPETEER_VERSION
      << ") failed or did not run; run `ctest -R playground` and read its output";
  ASSERT_TRUE(std::filesystem::exists(CHROMIUM_BINARY))
      << CHROMIUM_BINARY << " is missing: install Debian's chromium (scripts/install-deps.sh)";

  TempDir keys;
  FakeChatOptions chat;
  // A pause between events, so that the page visibly streams (the script counts the frames).
  chat.event_gap = std::chrono::milliseconds(100);
  auto stack = HttpStack::Start(AuthYaml(keys), kAdminKey, MiniDeploymentYaml(), chat);
  ASSERT_TRUE(stack.ok()) << stack.status();
  HttpStack& s = **stack;
  const std::filesystem::path artifacts = PLAYGROUND_ARTIFACTS;
  std::filesystem::remove_all(artifacts);
  TempDir profile;  // a fresh Chromium profile

  absl::StatusOr<CommandResult> run = RunCommand(
      {"/usr/bin/env", "node", (node_dir / "playground_test.mjs").string()}, absl::Seconds(150),
      {absl::StrCat("RAGD_URL=http://127.0.0.1:", s.ragd->http_port()),
       absl::StrCat("RAGD_KEY=", kAdminKey), absl::StrCat("RAGD_COLLECTION=", kCollection),
       absl::StrCat("RAGD_QUESTION=", kQuestion),
       absl::StrCat("RAGD_EXPECTED_ANSWER=", s.chat->answer()),
       absl::StrCat("RAGD_MODEL_A=", kAzure), absl::StrCat("RAGD_MODEL_B=", kMini),
       absl::StrCat("CHROMIUM=", CHROMIUM_BINARY), absl::StrCat("ARTIFACTS=", artifacts.string()),
       absl::StrCat("PROFILE=", profile.path().string())});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << "stdout:\n"
                               << run->out << "\nstderr:\n"
                               << run->err << "\nscreenshots: " << artifacts;
  std::vector<std::string> lines = absl::StrSplit(run->out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  Json result = Json::parse(lines.back(), nullptr, false);
  ASSERT_TRUE(result.is_object()) << run->out;
  EXPECT_EQ(result["checks"].get<int>(), 57) << run->out;  // every check of the script ran

  // What only this side sees. The page asked each model through ragd: one chat request per
  // answer (an ask, two comparisons of two models).
  EXPECT_EQ(s.chat->counters().requests, 5u);
  EXPECT_EQ(s.chat->counters().completed_streams, 5u);
  // The compared runs' usage is what the fake reported; the cost is the catalog's arithmetic.
  for (const Json& run_json : result["compare"]["runs"]) {
    const double in = run_json["model"] == kAzure ? 0.0025 : 0.00015;
    const double out = run_json["model"] == kAzure ? 0.01 : 0.0006;
    EXPECT_NEAR(run_json["cost_usd"].get<double>(),
                run_json["prompt_tokens"].get<double>() / 1000 * in +
                    run_json["completion_tokens"].get<double>() / 1000 * out,
                1e-12)
        << run_json.dump();
  }
  // The dropped file is stored, chunked, in the collection.
  HttpResult stored = Call(
      s.ragd->http_port(), "GET",
      absl::StrCat("/v1/ragd/collections/", kCollection, "/documents/playground-upload.md"), "",
      kReaderKey);
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.json["title"], "Playground upload");
  for (const char* shot : {"search.png", "document.png", "ask.png", "compare.png", "ingest.png"}) {
    EXPECT_GT(std::filesystem::file_size(artifacts / shot), 10000u) << shot;
  }
}

}  // namespace
}  // namespace ragd::testing
