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
#include <map>
#include <vector>

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

// A drop as one ingest job: files in one multipart request.
HttpResult StartJob(int port, const httplib::MultipartFormDataItems& files,
                    const std::string& key, const std::string& collection = kCollection) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  httplib::Headers headers;
  if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
  httplib::Result r = client.Post(
      absl::StrCat("/v1/ragd/collections/", collection, "/ingest-jobs").c_str(), headers, files);
  HttpResult out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.content_type = r->get_header_value("Content-Type");
  out.json = Json::parse(out.body, nullptr, false);
  return out;
}

// The NDJSON lines of a job's response, each parsed (a line that is not JSON fails the test).
std::vector<Json> JobLines(const std::string& body) {
  std::vector<Json> lines;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    lines.push_back(Json::parse(line, nullptr, false));
    EXPECT_TRUE(lines.back().is_object()) << line;
  }
  return lines;
}

TEST(PlaygroundApiTest, DropIsOneIngestJobReadableByIdOverHttpAndGrpc) {
  TempDir keys;
  // Small bounds, so that the 413s take small bodies (the set-up's corpus files fit both).
  auto stack = HttpStack::Start(absl::StrCat(AuthYaml(keys),
                                             "server:\n  max_message_bytes: 65536\n"
                                             "ingest:\n  max_document_bytes: 30000\n"),
                                kAdminKey);
  ASSERT_TRUE(stack.ok()) << stack.status();
  const int port = (*stack)->ragd->http_port();
  const std::string md = "# Dropped\n\n## Why\n\nA file of a playground drop: walrus marker.\n";
  const httplib::MultipartFormDataItems drop = {
      {"file", md, "drop/a.md", "text/markdown"},
      {"file", "caf\xC3", "b.txt", "text/plain"},  // not UTF-8: a failed document of the job
      {"file", "text", "c.xyz", "application/octet-stream"},  // no loader: failed too
  };

  // The roles of Ingest.IngestDocuments: a key, and a writer's.
  EXPECT_EQ(StartJob(port, drop, "").status, 401);
  EXPECT_EQ(StartJob(port, drop, kReaderKey).status, 403);

  HttpResult run = StartJob(port, drop, kAdminKey);
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.content_type, "application/x-ndjson");
  std::vector<Json> lines = JobLines(run.body);
  ASSERT_EQ(lines.size(), 5u) << run.body;  // the job, one line per file, the summary
  EXPECT_EQ(lines[0]["object"], "ingest.job");
  const std::string job_id = lines[0]["job_id"];
  EXPECT_EQ(job_id.rfind("job-", 0), 0u) << job_id;
  EXPECT_EQ(lines[0]["files"].size(), 3u);
  std::map<int, Json> files;
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(lines[i]["object"], "ingest.file") << lines[i].dump();
    files[lines[i]["index"].get<int>()] = lines[i];
  }
  ASSERT_EQ(files.size(), 3u);  // each file once
  EXPECT_EQ(files[0]["file"], "drop/a.md");
  EXPECT_EQ(files[0]["documents"][0]["outcome"], "ok");
  EXPECT_GE(files[0]["chunks"].get<int>(), 1);
  EXPECT_EQ(files[1]["failed"], 1);
  EXPECT_FALSE(files[1]["documents"][0]["error"].get<std::string>().empty());
  EXPECT_EQ(files[2]["failed"], 1);
  EXPECT_NE(files[2]["documents"][0]["error"].get<std::string>().find("unknown format"),
            std::string::npos)
      << files[2].dump();
  const Json& summary = lines[4];
  EXPECT_EQ(summary["object"], "ingest.summary");
  EXPECT_EQ(summary["job_id"], job_id);
  EXPECT_EQ(summary["collection"], kCollection);
  EXPECT_EQ(summary["state"], "JOB_STATE_COMPLETED");
  EXPECT_EQ(summary["documents_ok"], 1);
  EXPECT_EQ(summary["documents_failed"], 2);
  EXPECT_EQ(summary["chunks"], files[0]["chunks"]);
  EXPECT_EQ(summary["tokens"], files[0]["tokens"]);
  EXPECT_EQ(summary["failures"].size(), 2u);
  EXPECT_EQ(summary["embedder_provider"], "local");
  EXPECT_EQ(summary["cost_usd"], 0.0);  // the local embedder bills nothing
  EXPECT_EQ(summary["files"], 3);

  // The record by id over HTTP (a reader may read it) is the summary's, and gRPC's.
  HttpResult record = Call(port, "GET", "/v1/ragd/ingest-jobs/" + job_id, "", kReaderKey);
  ASSERT_EQ(record.status, 200) << record.body;
  EXPECT_EQ(record.json["object"], "ingest.job");
  for (const char* field : {"job_id", "collection", "state", "documents_ok", "documents_skipped",
                            "documents_failed", "chunks", "tokens", "embedded_chunks",
                            "embedded_tokens", "failures", "started_unix_ms",
                            "finished_unix_ms"}) {
    EXPECT_EQ(record.json[field], summary[field]) << field;
  }
  auto ingest = v1::Ingest::NewStub((*stack)->ragd->channel());
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  context.AddMetadata("authorization", absl::StrCat("Bearer ", kReaderKey));
  v1::GetIngestJobRequest get;
  get.set_job_id(job_id);
  v1::IngestJob job;
  grpc::Status got = ingest->GetIngestJob(&context, get, &job);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(job.collection(), record.json["collection"]);
  EXPECT_EQ(v1::JobState_Name(job.state()), record.json["state"]);
  EXPECT_EQ(job.documents_ok(), record.json["documents_ok"]);
  EXPECT_EQ(job.documents_failed(), record.json["documents_failed"]);
  EXPECT_EQ(job.chunks(), record.json["chunks"]);
  EXPECT_EQ(job.tokens(), record.json["tokens"]);
  EXPECT_EQ(job.embedded_tokens(), record.json["embedded_tokens"]);
  EXPECT_EQ(job.started_unix_ms(), record.json["started_unix_ms"]);
  EXPECT_EQ(job.finished_unix_ms(), record.json["finished_unix_ms"]);
  ASSERT_EQ(job.failures_size(), 2);
  EXPECT_EQ(job.failures(0).document_id(), record.json["failures"][0]["document_id"]);
  EXPECT_EQ(job.failures(0).reason(), record.json["failures"][0]["reason"]);
  // The dropped file is stored under its name.
  HttpResult stored = Call(
      port, "GET", absl::StrCat("/v1/ragd/collections/", kCollection, "/documents/drop/a.md"), "",
      kReaderKey);
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_NE(stored.json["chunks"][0]["content"].get<std::string>().find("walrus marker"),
            std::string::npos);

  // As GetIngestJob: another collection's key, an unknown id and an impossible one get the same
  // NOT_FOUND.
  HttpResult hidden = Call(port, "GET", "/v1/ragd/ingest-jobs/" + job_id, "", kScopedKey);
  EXPECT_EQ(hidden.status, 404) << hidden.body;
  HttpResult unknown = Call(port, "GET", "/v1/ragd/ingest-jobs/job-nobody", "", kReaderKey);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(Call(port, "GET", "/v1/ragd/ingest-jobs/bad%20id!", "", kReaderKey).status, 404);
  EXPECT_EQ(Call(port, "GET", "/v1/ragd/ingest-jobs/" + job_id).status, 401);

  // The same drop again is a new job; the unchanged file is skipped, not re-embedded.
  HttpResult again = StartJob(port, {drop[0]}, kAdminKey);
  ASSERT_EQ(again.status, 200) << again.body;
  std::vector<Json> again_lines = JobLines(again.body);
  ASSERT_EQ(again_lines.size(), 3u) << again.body;
  EXPECT_NE(again_lines[0]["job_id"], job_id);
  EXPECT_EQ(again_lines[2]["documents_skipped"], 1);
  EXPECT_EQ(again_lines[2]["embedded_chunks"], 0);

  // Bad requests: clear errors, and no job.
  HttpResult not_multipart =
      Call(port, "POST", absl::StrCat("/v1/ragd/collections/", kCollection, "/ingest-jobs"),
           "{\"files\": []}", kAdminKey);
  EXPECT_EQ(not_multipart.status, 400);
  EXPECT_NE(ErrorMessage(not_multipart).find("multipart/form-data"), std::string::npos)
      << not_multipart.body;
  HttpResult no_file = StartJob(port, {{"note", "no filename", "", ""}}, kAdminKey);
  EXPECT_EQ(no_file.status, 400);
  EXPECT_NE(ErrorMessage(no_file).find("no file"), std::string::npos) << no_file.body;
  HttpResult big_file =
      StartJob(port, {drop[0], {"file", std::string(30001, 'x'), "big.txt", "text/plain"}},
               kAdminKey);
  EXPECT_EQ(big_file.status, 413);
  EXPECT_NE(ErrorMessage(big_file).find("ingest.max_document_bytes"), std::string::npos)
      << big_file.body;
  HttpResult big_body = StartJob(
      port, {{"file", std::string(20000, 'x'), "1.txt", ""}, {"file", std::string(20000, 'x'),
       "2.txt", ""}, {"file", std::string(20000, 'x'), "3.txt", ""},
       {"file", std::string(20000, 'x'), "4.txt", ""}},
      kAdminKey);
  EXPECT_EQ(big_body.status, 413);
  EXPECT_NE(ErrorMessage(big_body).find("server.max_message_bytes"), std::string::npos)
      << big_body.body;
  EXPECT_EQ(StartJob(port, drop, kAdminKey, "nope").status, 404);
  EXPECT_EQ(StartJob(port, drop, kAdminKey, "Bad%20Name").status, 400);
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
  EXPECT_EQ(result["checks"].get<int>(), 61) << run->out;  // every check of the script ran

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
  // The drop was one ingest job, which gRPC's GetIngestJob (and so `ragctl jobs get`)
  // reads as the page showed it.
  const std::string job_id = result["ingest"]["job_id"];
  auto ingest = v1::Ingest::NewStub(s.ragd->channel());
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  context.AddMetadata("authorization", absl::StrCat("Bearer ", kReaderKey));
  v1::GetIngestJobRequest get;
  get.set_job_id(job_id);
  v1::IngestJob job;
  grpc::Status got = ingest->GetIngestJob(&context, get, &job);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(job.state(), v1::JOB_STATE_COMPLETED);
  EXPECT_EQ(job.documents_ok(), 1u);
  EXPECT_EQ(job.documents_failed(), 1u);
  EXPECT_EQ(job.chunks(), result["ingest"]["summary"]["chunks"].get<uint64_t>());
  ASSERT_EQ(job.failures_size(), 1);
  EXPECT_EQ(job.failures(0).document_id(), "notes.xyz");
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
