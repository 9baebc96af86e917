#pragma once
// Helpers of the ingest integration tests: a ragd with a config file, an Ingest client, the
// Korean test corpus, and per-document chunk counts.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ragd/v1/ingest.grpc.pb.h"
#include "tests/services/service_test_util.h"

namespace ragd::testing {

inline std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The five Korean Markdown documents of tests/services/data/corpus, sorted by name.
inline std::vector<std::filesystem::path> CorpusFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(RAGD_SOURCE_DIR) / "tests/services/data/corpus")) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline v1::Document MarkdownDocument(const std::string& id, const std::string& text) {
  v1::Document d;
  d.set_id(id);
  d.set_name(id);
  d.set_format("markdown");
  d.set_content(text);
  return d;
}

inline std::vector<v1::Document> CorpusDocuments() {
  std::vector<v1::Document> docs;
  for (const auto& f : CorpusFiles()) {
    docs.push_back(MarkdownDocument(f.filename().string(), ReadText(f)));
  }
  return docs;
}

class IngestClient {
 public:
  explicit IngestClient(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::Ingest::NewStub(channel)) {}

  // Streams `docs` as one job; the summary is filled even when the call fails late.
  grpc::Status Stream(const std::string& collection, const std::string& job_id,
                      const std::vector<v1::Document>& docs, v1::IngestSummary* summary) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline(120));
    auto writer = stub_->IngestDocuments(&context, summary);
    for (size_t i = 0; i < docs.size(); ++i) {
      v1::IngestDocumentsRequest r;
      if (i == 0) {
        r.set_collection(collection);
        r.set_job_id(job_id);
      }
      *r.mutable_document() = docs[i];
      if (!writer->Write(r)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status GetDocument(const std::string& collection, const std::string& id,
                           v1::GetDocumentResponse* response) {
    v1::GetDocumentRequest r;
    r.set_collection(collection);
    r.set_document_id(id);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return stub_->GetDocument(&context, r, response);
  }

  grpc::Status Delete(const std::string& collection, const std::string& id, uint64_t* deleted) {
    v1::DeleteDocumentRequest r;
    r.set_collection(collection);
    r.set_document_id(id);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::DeleteDocumentResponse response;
    grpc::Status s = stub_->DeleteDocument(&context, r, &response);
    *deleted = response.deleted_chunks();
    return s;
  }

  grpc::Status Upsert(const std::string& collection, const v1::Document& doc,
                      v1::UpsertDocumentResponse* response) {
    v1::UpsertDocumentRequest r;
    r.set_collection(collection);
    *r.mutable_document() = doc;
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return stub_->UpsertDocument(&context, r, response);
  }

  grpc::Status Job(const std::string& id, v1::IngestJob* job) {
    v1::GetIngestJobRequest r;
    r.set_job_id(id);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return stub_->GetIngestJob(&context, r, job);
  }

  v1::Ingest::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::Ingest::Stub> stub_;
};

// A collection bound to `embedder` (dimension taken from it).
inline grpc::Status CreateBound(Client& client, const std::string& name,
                                const std::string& embedder) {
  v1::CreateCollectionRequest r;
  r.set_name(name);
  r.mutable_embedder()->set_name(embedder);
  return client.Create(r);
}

inline uint64_t CountDocumentChunks(Client& client, const std::string& collection,
                                    const std::string& document_id) {
  v1::Filter filter;
  filter.mutable_condition()->set_document_id(true);
  filter.mutable_condition()->mutable_equals()->set_string_value(document_id);
  uint64_t n = 0;
  grpc::Status s = client.Count(collection, &filter, &n);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return n;
}

}  // namespace ragd::testing
