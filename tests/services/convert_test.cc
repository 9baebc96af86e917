// services/convert: proto <-> engine round trips, field paths in errors, status mapping.

#include "services/api/convert.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace ragd::services {
namespace {

TEST(ConvertTest, ToGrpcStatusKeepsCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status s = ToGrpcStatus(absl::NotFoundError("collection \"x\" not found"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "collection \"x\" not found");
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(absl::AlreadyExistsError("")).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::InternalError("")).error_code(), grpc::StatusCode::INTERNAL);
}

TEST(ConvertTest, PointRoundTrip) {
  index::Point p;
  p.id = "p1";
  p.vector = {1.5f, -2.0f};
  p.text = "text";
  p.document_id = "doc";
  p.metadata["s"] = std::string("x");
  p.metadata["i"] = int64_t{-3};
  p.metadata["d"] = 0.25;
  p.metadata["b"] = false;
  p.metadata["l"] = std::vector<std::string>{"a", "b"};
  index::Point original = p;

  v1::Point wire;
  ToProto(std::move(p), &wire);
  EXPECT_EQ(wire.id(), "p1");
  EXPECT_EQ(wire.vector_size(), 2);
  EXPECT_EQ(wire.metadata().at("i").int_value(), -3);
  EXPECT_EQ(wire.metadata().at("l").list_value().values(1), "b");

  ASSERT_OK_AND_ASSIGN(index::Point back, FromProto(std::move(wire), "point"));
  EXPECT_EQ(back.id, original.id);
  EXPECT_EQ(back.vector, original.vector);
  EXPECT_EQ(back.text, original.text);
  EXPECT_EQ(back.document_id, original.document_id);
  EXPECT_EQ(back.metadata, original.metadata);
}

TEST(ConvertTest, UnsetMetadataValueNamesTheField) {
  google::protobuf::RepeatedPtrField<v1::Point> points;
  points.Add()->set_id("ok");
  v1::Point* bad = points.Add();
  bad->set_id("bad");
  (*bad->mutable_metadata())["lang"];
  absl::StatusOr<std::vector<index::Point>> converted = FromProto(&points);
  ASSERT_FALSE(converted.ok());
  EXPECT_EQ(converted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(converted.status().message(), "points[1].metadata[\"lang\"]: value not set");
}

TEST(ConvertTest, FilterRoundTrip) {
  index::Condition range = index::Range("year", 2020.0, 2024.0);
  range.lte = 2030.0;
  index::Filter filter = index::Filter::And({
      index::Filter::Cond(index::Equals("lang", std::string("ko"))),
      index::Filter::Or({index::Filter::Cond(index::DocumentIdEquals("doc1")),
                         index::Filter::Cond(index::In("tag", {std::string("a"), int64_t{3}}))}),
      index::Filter::Not(index::Filter::Cond(range)),
  });
  v1::Filter wire;
  ToProto(filter, &wire);
  ASSERT_TRUE(wire.has_and_());
  EXPECT_EQ(wire.and_().filters_size(), 3);
  EXPECT_TRUE(wire.and_().filters(1).or_().filters(0).condition().document_id());

  ASSERT_OK_AND_ASSIGN(index::Filter back, FromProto(wire, "filter"));
  v1::Filter again;
  ToProto(back, &again);
  EXPECT_EQ(wire.SerializeAsString(), again.SerializeAsString());
  ASSERT_EQ(back.kind, index::Filter::Kind::kAnd);
  const index::Condition& r = back.children[2].children[0].condition;
  EXPECT_EQ(r.op, index::Condition::Op::kRange);
  EXPECT_EQ(*r.gte, 2020.0);
  EXPECT_EQ(*r.lt, 2024.0);
  EXPECT_EQ(*r.lte, 2030.0);
  EXPECT_FALSE(r.gt.has_value());
}

TEST(ConvertTest, MalformedFiltersNameThePath) {
  v1::Filter empty;
  EXPECT_EQ(FromProto(empty, "filter").status().message(),
            "filter: empty filter: set condition, and, or or not");

  v1::Filter f;
  f.mutable_or_()->add_filters()->mutable_condition()->set_key("k");
  absl::Status s = FromProto(f, "filter").status();
  EXPECT_EQ(s.message(), "filter.or.filters[0].condition: set equals, in or range");

  v1::Filter doc;
  doc.mutable_condition()->set_document_id(false);
  doc.mutable_condition()->mutable_equals()->set_string_value("d");
  EXPECT_EQ(FromProto(doc, "filter").status().message(),
            "filter.condition.document_id: must be true");

  v1::Filter deep;
  v1::Filter* cur = &deep;
  for (int i = 0; i < 40; ++i) cur = cur->mutable_not_();
  cur->mutable_condition()->set_key("k");
  cur->mutable_condition()->mutable_equals()->set_bool_value(true);
  EXPECT_EQ(FromProto(deep, "filter").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, CollectionSpecDefaultsAndRoundTrip) {
  v1::CreateCollectionRequest request;
  request.set_name("c");
  request.set_dimension(8);
  ASSERT_OK_AND_ASSIGN(index::CollectionSpec spec, FromProto(request));
  EXPECT_EQ(spec.metric, index::Metric::kCosine);
  EXPECT_EQ(spec.index.kind, index::IndexKind::kHnsw);
  EXPECT_EQ(spec.index.m, index::IndexSpec{}.m);
  EXPECT_EQ(spec.shards, 1u);

  request.set_metric(v1::METRIC_L2);
  request.mutable_index()->mutable_faiss()->set_index_factory("IVF16,Flat");
  request.mutable_index()->mutable_faiss()->set_nprobe(4);
  request.set_shards(3);
  ASSERT_OK_AND_ASSIGN(spec, FromProto(request));
  EXPECT_EQ(spec.metric, index::Metric::kL2);
  EXPECT_EQ(spec.index.kind, index::IndexKind::kFaiss);
  EXPECT_EQ(spec.index.faiss_factory, "IVF16,Flat");
  EXPECT_EQ(spec.index.nprobe, 4);
  EXPECT_EQ(spec.index.ef, index::IndexSpec{}.ef);

  index::CollectionInfo info;
  info.spec = spec;
  info.points = 5;
  info.created_at_unix_ms = 1700000000123;
  v1::CollectionInfo wire;
  ToProto(info, &wire);
  EXPECT_EQ(wire.metric(), v1::METRIC_L2);
  EXPECT_EQ(wire.index().faiss().index_factory(), "IVF16,Flat");
  EXPECT_EQ(wire.shards(), 3u);
  EXPECT_EQ(wire.points(), 5u);
  EXPECT_EQ(wire.created_at().seconds(), 1700000000);
  EXPECT_EQ(wire.created_at().nanos(), 123000000);

  request.set_metric(static_cast<v1::Metric>(9));
  EXPECT_EQ(FromProto(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, HnswQuantizationRoundTrip) {
  v1::CreateCollectionRequest request;
  request.set_name("q");
  request.set_dimension(8);
  request.mutable_index()->mutable_hnsw();
  ASSERT_OK_AND_ASSIGN(index::CollectionSpec spec, FromProto(request));
  EXPECT_EQ(spec.index.quantization, index::Quantization::kNone);
  for (auto [wire, domain] : {std::pair{v1::QUANTIZATION_F16, index::Quantization::kF16},
                              std::pair{v1::QUANTIZATION_INT8, index::Quantization::kInt8},
                              std::pair{v1::QUANTIZATION_NONE, index::Quantization::kNone}}) {
    request.mutable_index()->mutable_hnsw()->set_quantization(wire);
    ASSERT_OK_AND_ASSIGN(spec, FromProto(request));
    EXPECT_EQ(spec.index.quantization, domain);
    index::CollectionInfo info;
    info.spec = spec;
    v1::CollectionInfo out;
    ToProto(info, &out);
    EXPECT_EQ(out.index().hnsw().quantization(), wire);
  }
  request.mutable_index()->mutable_hnsw()->set_quantization(static_cast<v1::Quantization>(7));
  EXPECT_EQ(FromProto(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, SearchRequest) {
  v1::SearchRequest request;
  request.set_collection("c");
  request.add_vector(1);
  request.add_vector(2);
  request.set_k(7);
  ASSERT_OK_AND_ASSIGN(index::SearchRequest search, FromProto(request));
  EXPECT_EQ(search.k, 7u);
  EXPECT_EQ(search.ef, 0);
  EXPECT_FALSE(search.filter.has_value());
  EXPECT_FALSE(search.min_score.has_value());
  EXPECT_TRUE(search.with_payload);
  EXPECT_FALSE(search.with_vectors);

  request.set_ef(128);
  request.set_min_score(0.5f);
  request.set_with_payload(false);
  request.set_with_vectors(true);
  request.mutable_filter()->mutable_condition()->set_key("k");
  request.mutable_filter()->mutable_condition()->mutable_equals()->set_int_value(1);
  ASSERT_OK_AND_ASSIGN(search, FromProto(request));
  EXPECT_EQ(search.ef, 128);
  EXPECT_EQ(*search.min_score, 0.5f);
  EXPECT_FALSE(search.with_payload);
  EXPECT_TRUE(search.with_vectors);
  ASSERT_TRUE(search.filter.has_value());
  EXPECT_EQ(search.filter->condition.key, "k");

  EXPECT_TRUE(search.rescore);  // unset: re-score
  EXPECT_EQ(search.oversampling, 0.0f);
  request.set_rescore(false);
  request.set_oversampling(2.5f);
  ASSERT_OK_AND_ASSIGN(search, FromProto(request));
  EXPECT_FALSE(search.rescore);
  EXPECT_EQ(search.oversampling, 2.5f);

  request.set_ef(0);
  EXPECT_EQ(FromProto(request).status().message(), "ef: must be at least 1 when set");
}

}  // namespace
}  // namespace ragd::services
