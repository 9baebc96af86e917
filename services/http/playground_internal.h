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
//
// The key checks are the gRPC methods' (Collections.ListCollections and the scope of
// GetCollection, Retrieval.Retrieve, Ingest.GetDocument, Ingest.UpsertDocument); errors are
// OpenAI's error JSON, as on the other routes. Ingestion runs on the HTTP thread that received
// the file (the HTTP pool is sized for calls that hold a thread, see HttpFrontOptions::threads).

#include <httplib.h>

#include <cstddef>

#include "services/http/http_server.h"

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

// Adds the routes above. `resources` must outlive the server.
void AddPlaygroundRoutes(httplib::Server& server, const HttpFrontResources* resources);

}  // namespace ragd::services::http_internal
