#pragma once
// Private to services/http: the playground page (README "Playground") and the small JSON API it
// calls, added to the HTTP front's server.
//
//   GET  /                         the page (index.html); /playground/{file} its scripts and
//                                  style, compiled into the binary (playground/embed_assets.cmake).
//                                  No key needed: the files hold no data; the page asks for a key
//                                  and sends it with every API call.
//   GET  /v1/ragd/collections      the collections the key may read: name, dimension, points,
//                                  whether a BM25 index exists (text and hybrid search).
//   POST /v1/ragd/search           {collection, query, mode?, k?}: Retriever::Retrieve, as
//                                  ragd.v1.Retrieval/Retrieve; each hit in the citation shape of
//                                  chat completions (document, title, heading path, page, text).
//   GET  /v1/ragd/collections/{c}/documents/{id}  every chunk of a document, in order
//                                  (ingest::ReadDocument, as ragd.v1.Ingest/GetDocument).
//   POST /v1/ragd/collections/{c}/files?name=NAME  the raw bytes of one file: loaded by its
//                                  extension's loader and ingested (as ragd.v1.Ingest/
//                                  UpsertDocument, through the same Ingestors), answered with
//                                  each document's outcome, chunk and token counts.
//   POST /v1/ragd/collections/{c}/ingest-jobs  a drop: multipart/form-data, one part per file
//                                  (its filename's extension picks the loader), run as ONE ingest
//                                  job by an ingest::Ingestor session, as ragd.v1.Ingest/
//                                  IngestDocuments runs a stream (ingest_jobs.cc). Answered with
//                                  NDJSON: an `ingest.job` line (job id, files), one
//                                  `ingest.file` line per file as its documents finish, and an
//                                  `ingest.summary` line (the job record plus embedder, requests,
//                                  cost, seconds). Refused before any ingestion: 413 for a body
//                                  over server.max_message_bytes or a file over
//                                  ingest.max_document_bytes, 400 for no file, more than 1000 or
//                                  a bad name, 429 over ingest.max_streams jobs at once.
//   GET  /v1/ragd/ingest-jobs/{id} the job record, field for field as ragd.v1.Ingest/
//                                  GetIngestJob returns it (the same NOT_FOUND for a job outside
//                                  the key's scope).
//
// The key checks are the gRPC methods' (Collections.ListCollections and the scope of
// GetCollection, Retrieval.Retrieve, Ingest.GetDocument, Ingest.UpsertDocument,
// Ingest.IngestDocuments, Ingest.GetIngestJob); errors are
// OpenAI's error JSON, as on the other routes. Ingestion runs on the HTTP thread that received
// the file (the HTTP pool is sized for calls that hold a thread, see HttpFrontOptions::threads).

#include <httplib.h>

#include <atomic>
#include <cstddef>

#include "ingest/job.h"
#include "services/http/http_server.h"
#include "services/http/openai_wire_internal.h"

namespace ragd::services::http_internal {

// One embedded file (generated playground_assets.cc).
struct PlaygroundAsset {
  const char* name;  // "index.html"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};
extern const PlaygroundAsset kPlaygroundAssets[];
extern const size_t kPlaygroundAssetCount;

// Adds the routes above. `resources` and `stopping` (set when the server stops: a running
// ingest job then stops queueing files) must outlive the server.
void AddPlaygroundRoutes(httplib::Server& server, const HttpFrontResources* resources,
                         const std::atomic<bool>* stopping);
// The two ingest-job routes (ingest_jobs.cc); called by AddPlaygroundRoutes.
void AddIngestJobRoutes(httplib::Server& server, const HttpFrontResources* resources,
                        const std::atomic<bool>* stopping);

// A job record with the field names of ragd.v1.IngestJob (state as its enum's name), so that
// the HTTP and gRPC answers read alike.
Json IngestJobJson(const ingest::IngestJob& job);

}  // namespace ragd::services::http_internal
