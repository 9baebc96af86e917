#include "services/api/convert.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "rag/collection_binding.h"

namespace ragd::services {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Index knobs are uint32 on the wire and int in the engine; 0 keeps the engine's default.
absl::Status SetKnob(uint32_t value, absl::string_view field, int* out) {
  if (value == 0) return absl::OkStatus();
  if (value > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    return Invalid(field, absl::StrCat("too large: ", value));
  }
  *out = static_cast<int>(value);
  return absl::OkStatus();
}

// Proto recursion is bounded here as well as in Filter::Validate(), because protobuf accepts
// messages nested 100 deep and we recurse before the engine gets to see the tree.
absl::StatusOr<index::Filter> FilterFromProto(const v1::Filter& filter, absl::string_view field,
                                              int depth);

absl::StatusOr<std::vector<index::Filter>> ChildrenFromProto(const v1::FilterList& list,
                                                             absl::string_view field, int depth) {
  if (list.filters().empty()) return Invalid(field, "needs at least one filter");
  std::vector<index::Filter> children;
  children.reserve(list.filters_size());
  for (int i = 0; i < list.filters_size(); ++i) {
    ASSIGN_OR_RETURN(
        index::Filter child,
        FilterFromProto(list.filters(i), absl::StrFormat("%s.filters[%d]", field, i), depth + 1));
    children.push_back(std::move(child));
  }
  return children;
}

absl::StatusOr<index::Condition> ConditionFromProto(const v1::Condition& c,
                                                    absl::string_view field) {
  index::Condition out;
  switch (c.field_case()) {
    case v1::Condition::kKey:
      if (c.key().empty()) return Invalid(absl::StrCat(field, ".key"), "must not be empty");
      out.key = c.key();
      break;
    case v1::Condition::kDocumentId:
      if (!c.document_id()) return Invalid(absl::StrCat(field, ".document_id"), "must be true");
      out.on_document_id = true;
      break;
    case v1::Condition::FIELD_NOT_SET:
      return Invalid(field, "set key or document_id");
  }
  switch (c.match_case()) {
    case v1::Condition::kEquals: {
      out.op = index::Condition::Op::kEquals;
      ASSIGN_OR_RETURN(out.value, FromProto(c.equals(), absl::StrCat(field, ".equals")));
      break;
    }
    case v1::Condition::kIn: {
      out.op = index::Condition::Op::kIn;
      if (c.in().values().empty()) return Invalid(absl::StrCat(field, ".in"), "empty set");
      for (int i = 0; i < c.in().values_size(); ++i) {
        ASSIGN_OR_RETURN(index::MetadataValue v,
                         FromProto(c.in().values(i), absl::StrFormat("%s.in[%d]", field, i)));
        out.values.push_back(std::move(v));
      }
      break;
    }
    case v1::Condition::kRange: {
      out.op = index::Condition::Op::kRange;
      const v1::Range& r = c.range();
      if (r.has_gt()) out.gt = r.gt();
      if (r.has_gte()) out.gte = r.gte();
      if (r.has_lt()) out.lt = r.lt();
      if (r.has_lte()) out.lte = r.lte();
      if (!out.gt && !out.gte && !out.lt && !out.lte) {
        return Invalid(absl::StrCat(field, ".range"), "set at least one of gt, gte, lt, lte");
      }
      break;
    }
    case v1::Condition::MATCH_NOT_SET:
      return Invalid(field, "set equals, in or range");
  }
  return out;
}

absl::StatusOr<index::Filter> FilterFromProto(const v1::Filter& filter, absl::string_view field,
                                              int depth) {
  if (depth > index::Filter::kMaxDepth) {
    return Invalid(field, absl::StrCat("nested deeper than ", index::Filter::kMaxDepth));
  }
  switch (filter.kind_case()) {
    case v1::Filter::kCondition: {
      ASSIGN_OR_RETURN(index::Condition c,
                       ConditionFromProto(filter.condition(), absl::StrCat(field, ".condition")));
      return index::Filter::Cond(std::move(c));
    }
    case v1::Filter::kAnd: {
      ASSIGN_OR_RETURN(auto children,
                       ChildrenFromProto(filter.and_(), absl::StrCat(field, ".and"), depth));
      return index::Filter::And(std::move(children));
    }
    case v1::Filter::kOr: {
      ASSIGN_OR_RETURN(auto children,
                       ChildrenFromProto(filter.or_(), absl::StrCat(field, ".or"), depth));
      return index::Filter::Or(std::move(children));
    }
    case v1::Filter::kNot: {
      ASSIGN_OR_RETURN(index::Filter child,
                       FilterFromProto(filter.not_(), absl::StrCat(field, ".not"), depth + 1));
      return index::Filter::Not(std::move(child));
    }
    case v1::Filter::KIND_NOT_SET:
      return Invalid(field, "empty filter: set condition, and, or or not");
  }
  return Invalid(field, "unknown filter kind");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode both number gRPC's canonical codes (0..16).
  static_assert(static_cast<int>(absl::StatusCode::kUnavailable) == grpc::StatusCode::UNAVAILABLE);
  static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                grpc::StatusCode::UNAUTHENTICATED);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::StatusOr<index::Metric> FromProto(v1::Metric metric, absl::string_view field) {
  switch (metric) {
    case v1::METRIC_UNSPECIFIED:
    case v1::METRIC_COSINE:
      return index::Metric::kCosine;
    case v1::METRIC_DOT:
      return index::Metric::kDot;
    case v1::METRIC_L2:
      return index::Metric::kL2;
    default:  // open enum: a newer client may send a value this server does not know
      break;
  }
  return Invalid(field, absl::StrCat("unknown metric ", static_cast<int>(metric)));
}

absl::StatusOr<index::IndexSpec> FromProto(const v1::IndexSpec& spec, absl::string_view field) {
  index::IndexSpec out;  // defaults
  switch (spec.kind_case()) {
    case v1::IndexSpec::kHnsw:
      out.kind = index::IndexKind::kHnsw;
      RETURN_IF_ERROR(SetKnob(spec.hnsw().m(), absl::StrCat(field, ".hnsw.m"), &out.m));
      RETURN_IF_ERROR(SetKnob(spec.hnsw().ef_construction(),
                              absl::StrCat(field, ".hnsw.ef_construction"), &out.ef_construction));
      RETURN_IF_ERROR(SetKnob(spec.hnsw().ef(), absl::StrCat(field, ".hnsw.ef"), &out.ef));
      switch (spec.hnsw().quantization()) {
        case v1::QUANTIZATION_NONE:
          out.quantization = index::Quantization::kNone;
          break;
        case v1::QUANTIZATION_F16:
          out.quantization = index::Quantization::kF16;
          break;
        case v1::QUANTIZATION_INT8:
          out.quantization = index::Quantization::kInt8;
          break;
        default:  // open enum: a newer client may send a value this server does not know
          return Invalid(absl::StrCat(field, ".hnsw.quantization"),
                         absl::StrCat("unknown quantization ",
                                      static_cast<int>(spec.hnsw().quantization())));
      }
      break;
    case v1::IndexSpec::kFaiss:
      out.kind = index::IndexKind::kFaiss;
      if (spec.faiss().index_factory().empty()) {
        return Invalid(absl::StrCat(field, ".faiss.index_factory"), "must not be empty");
      }
      out.faiss_factory = spec.faiss().index_factory();
      RETURN_IF_ERROR(SetKnob(spec.faiss().ef(), absl::StrCat(field, ".faiss.ef"), &out.ef));
      RETURN_IF_ERROR(
          SetKnob(spec.faiss().nprobe(), absl::StrCat(field, ".faiss.nprobe"), &out.nprobe));
      break;
    case v1::IndexSpec::kFlat:
      out.kind = index::IndexKind::kFlat;
      break;
    case v1::IndexSpec::KIND_NOT_SET:
      break;
  }
  return out;
}

absl::StatusOr<index::CollectionSpec> FromProto(const v1::CreateCollectionRequest& request) {
  index::CollectionSpec spec;
  spec.name = request.name();
  spec.dimension = request.dimension();
  ASSIGN_OR_RETURN(spec.metric, FromProto(request.metric(), "metric"));
  ASSIGN_OR_RETURN(spec.index, FromProto(request.index(), "index"));
  spec.shards = request.shards() == 0 ? 1 : request.shards();
  if (request.has_lexical()) {
    ASSIGN_OR_RETURN(spec.lexical, FromProto(request.lexical(), "lexical"));
  } else {
    // Text collections get hybrid retrieval by default (issue 15); plain vector ones have no
    // text to index.
    spec.lexical.enabled = !request.embedder().name().empty();
  }
  return spec;
}

absl::StatusOr<index::LexicalSpec> FromProto(const v1::LexicalSpec& spec, absl::string_view field) {
  index::LexicalSpec out;
  out.enabled = spec.enabled();
  switch (spec.analyzer()) {
    case v1::ANALYZER_UNSPECIFIED:
    case v1::ANALYZER_AUTO:
      out.analyzer = index::lexical::AnalyzerKind::kAuto;
      break;
    case v1::ANALYZER_ENGLISH:
      out.analyzer = index::lexical::AnalyzerKind::kEnglish;
      break;
    case v1::ANALYZER_KOREAN:
      out.analyzer = index::lexical::AnalyzerKind::kKorean;
      break;
    case v1::ANALYZER_SIMPLE:
      out.analyzer = index::lexical::AnalyzerKind::kSimple;
      break;
    default:  // open enum
      return Invalid(absl::StrCat(field, ".analyzer"),
                     absl::StrCat("unknown analyzer ", static_cast<int>(spec.analyzer())));
  }
  if (spec.has_k1()) out.k1 = spec.k1();
  if (spec.has_b()) out.b = spec.b();
  return out;
}

absl::StatusOr<std::optional<index::SearchMode>> FromProto(v1::SearchMode mode,
                                                           absl::string_view field) {
  switch (mode) {
    case v1::SEARCH_MODE_UNSPECIFIED:
      return std::optional<index::SearchMode>();
    case v1::SEARCH_MODE_VECTOR:
      return index::SearchMode::kVector;
    case v1::SEARCH_MODE_TEXT:
      return index::SearchMode::kText;
    case v1::SEARCH_MODE_HYBRID:
      return index::SearchMode::kHybrid;
    default:  // open enum
      break;
  }
  return Invalid(field, absl::StrCat("unknown search mode ", static_cast<int>(mode)));
}

absl::StatusOr<index::HybridOptions> FromProto(const v1::FusionOptions& fusion,
                                               absl::string_view field) {
  index::HybridOptions out;
  switch (fusion.method()) {
    case v1::FUSION_METHOD_UNSPECIFIED:  // the layer that searches chooses (rag::Retriever)
      break;
    case v1::FUSION_METHOD_RRF:
      out.fusion = index::Fusion::kRrf;
      break;
    case v1::FUSION_METHOD_WEIGHTED:
      out.fusion = index::Fusion::kWeighted;
      break;
    default:  // open enum
      return Invalid(absl::StrCat(field, ".method"),
                     absl::StrCat("unknown fusion method ", static_cast<int>(fusion.method())));
  }
  if (fusion.has_rrf_k()) out.rrf_k = fusion.rrf_k();
  if (fusion.has_alpha()) out.alpha = fusion.alpha();
  out.vector_candidates = fusion.vector_candidates();
  out.text_candidates = fusion.text_candidates();
  return out;
}

absl::StatusOr<index::MetadataValue> FromProto(const v1::Value& value, absl::string_view field) {
  switch (value.kind_case()) {
    case v1::Value::kStringValue:
      return index::MetadataValue(value.string_value());
    case v1::Value::kIntValue:
      return index::MetadataValue(static_cast<int64_t>(value.int_value()));
    case v1::Value::kDoubleValue:
      return index::MetadataValue(value.double_value());
    case v1::Value::kBoolValue:
      return index::MetadataValue(value.bool_value());
    case v1::Value::kListValue:
      return index::MetadataValue(std::vector<std::string>(value.list_value().values().begin(),
                                                           value.list_value().values().end()));
    case v1::Value::KIND_NOT_SET:
      break;
  }
  return Invalid(field, "value not set");
}

absl::StatusOr<index::Point> FromProto(v1::Point&& point, absl::string_view field) {
  index::Point out;
  out.id = std::move(*point.mutable_id());
  out.vector.assign(point.vector().begin(), point.vector().end());
  out.text = std::move(*point.mutable_text());
  out.document_id = std::move(*point.mutable_document_id());
  for (auto& [key, value] : *point.mutable_metadata()) {
    ASSIGN_OR_RETURN(index::MetadataValue v,
                     FromProto(value, absl::StrFormat("%s.metadata[\"%s\"]", field, key)));
    out.metadata.emplace(key, std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<index::Point>> FromProto(
    google::protobuf::RepeatedPtrField<v1::Point>* points) {
  std::vector<index::Point> out;
  out.reserve(points->size());
  for (int i = 0; i < points->size(); ++i) {
    ASSIGN_OR_RETURN(index::Point p,
                     FromProto(std::move(*points->Mutable(i)), absl::StrFormat("points[%d]", i)));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<index::Filter> FromProto(const v1::Filter& filter, absl::string_view field) {
  return FilterFromProto(filter, field, 1);
}

absl::StatusOr<index::SearchRequest> FromProto(const v1::SearchRequest& request) {
  index::SearchRequest out;
  out.collection = request.collection();
  out.query.assign(request.vector().begin(), request.vector().end());
  out.text = request.text();
  ASSIGN_OR_RETURN(std::optional<index::SearchMode> mode, FromProto(request.mode(), "mode"));
  if (mode) {
    out.mode = *mode;
  } else if (!request.text().empty()) {
    out.mode = request.vector().empty() ? index::SearchMode::kText : index::SearchMode::kHybrid;
  } else {
    out.mode = index::SearchMode::kVector;
  }
  ASSIGN_OR_RETURN(out.hybrid, FromProto(request.fusion(), "fusion"));
  out.k = request.k();
  if (request.has_ef()) {
    if (request.ef() == 0) return Invalid("ef", "must be at least 1 when set");
    RETURN_IF_ERROR(SetKnob(request.ef(), "ef", &out.ef));
  }
  if (request.has_filter()) {
    ASSIGN_OR_RETURN(out.filter, FromProto(request.filter(), "filter"));
  }
  if (request.has_min_score()) out.min_score = request.min_score();
  out.with_vectors = request.with_vectors();
  out.with_payload = !request.has_with_payload() || request.with_payload();
  out.rescore = !request.has_rescore() || request.rescore();
  out.oversampling = request.oversampling();  // range checked by the engine
  return out;
}

v1::Metric ToProto(index::Metric metric) {
  switch (metric) {
    case index::Metric::kCosine:
      return v1::METRIC_COSINE;
    case index::Metric::kDot:
      return v1::METRIC_DOT;
    case index::Metric::kL2:
      return v1::METRIC_L2;
  }
  return v1::METRIC_UNSPECIFIED;
}

void ToProto(const index::IndexSpec& spec, v1::IndexSpec* out) {
  switch (spec.kind) {
    case index::IndexKind::kHnsw: {
      v1::HnswSpec* h = out->mutable_hnsw();
      h->set_m(static_cast<uint32_t>(spec.m));
      h->set_ef_construction(static_cast<uint32_t>(spec.ef_construction));
      h->set_ef(static_cast<uint32_t>(spec.ef));
      switch (spec.quantization) {
        case index::Quantization::kNone:
          h->set_quantization(v1::QUANTIZATION_NONE);
          break;
        case index::Quantization::kF16:
          h->set_quantization(v1::QUANTIZATION_F16);
          break;
        case index::Quantization::kInt8:
          h->set_quantization(v1::QUANTIZATION_INT8);
          break;
      }
      return;
    }
    case index::IndexKind::kFaiss: {
      v1::FaissSpec* f = out->mutable_faiss();
      f->set_index_factory(spec.faiss_factory);
      f->set_ef(static_cast<uint32_t>(spec.ef));
      f->set_nprobe(static_cast<uint32_t>(spec.nprobe));
      return;
    }
    case index::IndexKind::kFlat:
      out->mutable_flat();
      return;
  }
}

void ToProto(const index::LexicalSpec& spec, v1::LexicalSpec* out) {
  out->set_enabled(spec.enabled);
  switch (spec.analyzer) {
    case index::lexical::AnalyzerKind::kAuto:
      out->set_analyzer(v1::ANALYZER_AUTO);
      break;
    case index::lexical::AnalyzerKind::kEnglish:
      out->set_analyzer(v1::ANALYZER_ENGLISH);
      break;
    case index::lexical::AnalyzerKind::kKorean:
      out->set_analyzer(v1::ANALYZER_KOREAN);
      break;
    case index::lexical::AnalyzerKind::kSimple:
      out->set_analyzer(v1::ANALYZER_SIMPLE);
      break;
  }
  out->set_k1(spec.k1);
  out->set_b(spec.b);
}

void ToProto(const index::LegHit& leg, v1::LegHit* out) {
  out->set_rank(leg.rank);
  out->set_score(leg.score);
}

void ToProto(const index::CollectionInfo& info, v1::CollectionInfo* out) {
  out->set_name(info.spec.name);
  out->set_dimension(info.spec.dimension);
  out->set_metric(ToProto(info.spec.metric));
  ToProto(info.spec.index, out->mutable_index());
  out->set_shards(info.spec.shards);
  out->set_points(info.points);
  out->set_deleted_points(info.deleted_points);
  out->set_index_bytes(info.index_bytes);
  out->set_storage_bytes(info.storage_bytes);
  out->set_last_sequence(info.last_sequence);
  out->set_vector_searches(info.vector_searches);
  out->set_vector_search_cpu_seconds(static_cast<double>(info.vector_search_cpu_ns) * 1e-9);
  ToProto(info.spec.lexical, out->mutable_lexical());
  out->mutable_created_at()->set_seconds(info.created_at_unix_ms / 1000);
  out->mutable_created_at()->set_nanos(static_cast<int32_t>(info.created_at_unix_ms % 1000) *
                                       1000000);
  // Attributes a newer ragd wrote, or corrupt ones, just show no binding here; text calls
  // report the decoding error.
  absl::StatusOr<rag::CollectionBinding> binding = rag::DecodeBinding(info.spec.attributes);
  if (binding.ok() && binding->embedder.dimension != 0) {
    v1::EmbedderBinding* e = out->mutable_embedder();
    e->set_name(binding->embedder.name);
    e->set_provider(binding->embedder.provider);
    e->set_model(binding->embedder.model);
    e->set_dimension(binding->embedder.dimension);
    out->mutable_chunking()->set_max_tokens(static_cast<uint32_t>(binding->chunking.max_tokens));
    out->mutable_chunking()->set_overlap_tokens(
        static_cast<uint32_t>(binding->chunking.overlap_tokens));
  }
}

void ToProto(const index::MetadataValue& value, v1::Value* out) {
  struct Visitor {
    v1::Value* out;
    void operator()(const std::string& s) const { out->set_string_value(s); }
    void operator()(int64_t i) const { out->set_int_value(i); }
    void operator()(double d) const { out->set_double_value(d); }
    void operator()(bool b) const { out->set_bool_value(b); }
    void operator()(const std::vector<std::string>& l) const {
      out->mutable_list_value()->mutable_values()->Add(l.begin(), l.end());
    }
  };
  std::visit(Visitor{out}, value);
}

void ToProto(index::Point&& point, v1::Point* out) {
  out->set_id(std::move(point.id));
  out->mutable_vector()->Add(point.vector.begin(), point.vector.end());
  out->set_text(std::move(point.text));
  out->set_document_id(std::move(point.document_id));
  auto* metadata = out->mutable_metadata();
  for (const auto& [key, value] : point.metadata) ToProto(value, &(*metadata)[key]);
}

void ToProto(const index::Filter& filter, v1::Filter* out) {
  switch (filter.kind) {
    case index::Filter::Kind::kCondition: {
      const index::Condition& c = filter.condition;
      v1::Condition* pc = out->mutable_condition();
      if (c.on_document_id) {
        pc->set_document_id(true);
      } else {
        pc->set_key(c.key);
      }
      switch (c.op) {
        case index::Condition::Op::kEquals:
          ToProto(c.value, pc->mutable_equals());
          break;
        case index::Condition::Op::kIn:
          for (const auto& v : c.values) ToProto(v, pc->mutable_in()->add_values());
          break;
        case index::Condition::Op::kRange: {
          v1::Range* r = pc->mutable_range();
          if (c.gt) r->set_gt(*c.gt);
          if (c.gte) r->set_gte(*c.gte);
          if (c.lt) r->set_lt(*c.lt);
          if (c.lte) r->set_lte(*c.lte);
          break;
        }
      }
      return;
    }
    case index::Filter::Kind::kAnd:
      for (const auto& child : filter.children) ToProto(child, out->mutable_and_()->add_filters());
      return;
    case index::Filter::Kind::kOr:
      for (const auto& child : filter.children) ToProto(child, out->mutable_or_()->add_filters());
      return;
    case index::Filter::Kind::kNot:
      if (!filter.children.empty()) ToProto(filter.children.front(), out->mutable_not_());
      return;
  }
}

}  // namespace ragd::services
