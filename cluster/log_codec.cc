#include "cluster/log_codec.h"

#include <limits>
#include <utility>

#include "ragd/cluster/v1/log.pb.h"

namespace ragd::cluster {
namespace {

namespace pb = ::ragd::cluster::v1;

pb::Metric ToProto(index::Metric m) {
  switch (m) {
    case index::Metric::kCosine:
      return pb::METRIC_COSINE;
    case index::Metric::kDot:
      return pb::METRIC_DOT;
    case index::Metric::kL2:
      return pb::METRIC_L2;
  }
  return pb::METRIC_UNSPECIFIED;
}

pb::IndexKind ToProto(index::IndexKind k) {
  switch (k) {
    case index::IndexKind::kHnsw:
      return pb::INDEX_KIND_HNSW;
    case index::IndexKind::kFaiss:
      return pb::INDEX_KIND_FAISS;
    case index::IndexKind::kFlat:
      return pb::INDEX_KIND_FLAT;
  }
  return pb::INDEX_KIND_UNSPECIFIED;
}

void ToProto(const index::MetadataValue& v, pb::MetadataValue* out) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    out->set_string_value(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out->set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    out->set_double_value(*d);
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out->set_bool_value(*b);
  } else if (const auto* l = std::get_if<std::vector<std::string>>(&v)) {
    auto* list = out->mutable_string_list();
    for (const auto& x : *l) list->add_values(x);
  }
}

void ToProto(const index::Point& p, pb::Point* out) {
  out->set_id(p.id);
  out->mutable_vector()->Add(p.vector.begin(), p.vector.end());
  out->set_text(p.text);
  out->set_document_id(p.document_id);
  for (const auto& [key, value] : p.metadata) {
    auto* e = out->add_metadata();
    e->set_key(key);
    ToProto(value, e->mutable_value());
  }
}

absl::StatusOr<index::MetadataValue> FromProto(const pb::MetadataValue& v, std::string_view key) {
  switch (v.kind_case()) {
    case pb::MetadataValue::kStringValue:
      return index::MetadataValue(v.string_value());
    case pb::MetadataValue::kIntValue:
      return index::MetadataValue(static_cast<int64_t>(v.int_value()));
    case pb::MetadataValue::kDoubleValue:
      return index::MetadataValue(v.double_value());
    case pb::MetadataValue::kBoolValue:
      return index::MetadataValue(v.bool_value());
    case pb::MetadataValue::kStringList:
      return index::MetadataValue(std::vector<std::string>(v.string_list().values().begin(),
                                                           v.string_list().values().end()));
    case pb::MetadataValue::KIND_NOT_SET:
      break;
  }
  return absl::DataLossError("log entry: metadata \"" + std::string(key) + "\" has no value");
}

absl::StatusOr<index::Point> FromProto(const pb::Point& p) {
  index::Point out;
  out.id = p.id();
  out.vector.assign(p.vector().begin(), p.vector().end());
  out.text = p.text();
  out.document_id = p.document_id();
  for (const auto& e : p.metadata()) {
    auto value = FromProto(e.value(), e.key());
    if (!value.ok()) return value.status();
    out.metadata.insert_or_assign(e.key(), *std::move(value));
  }
  return out;
}

absl::StatusOr<index::CollectionSpec> FromProto(const pb::CreateCollection& c) {
  index::CollectionSpec spec;
  spec.name = c.name();
  spec.dimension = c.dimension();
  switch (c.metric()) {
    case pb::METRIC_COSINE:
      spec.metric = index::Metric::kCosine;
      break;
    case pb::METRIC_DOT:
      spec.metric = index::Metric::kDot;
      break;
    case pb::METRIC_L2:
      spec.metric = index::Metric::kL2;
      break;
    default:
      return absl::DataLossError("log entry: create_collection has an unknown metric " +
                                 std::to_string(static_cast<int>(c.metric())));
  }
  switch (c.index().kind()) {
    case pb::INDEX_KIND_HNSW:
      spec.index.kind = index::IndexKind::kHnsw;
      break;
    case pb::INDEX_KIND_FAISS:
      spec.index.kind = index::IndexKind::kFaiss;
      break;
    case pb::INDEX_KIND_FLAT:
      spec.index.kind = index::IndexKind::kFlat;
      break;
    default:
      return absl::DataLossError("log entry: create_collection has an unknown index kind " +
                                 std::to_string(static_cast<int>(c.index().kind())));
  }
  spec.index.m = c.index().m();
  spec.index.ef_construction = c.index().ef_construction();
  spec.index.ef = c.index().ef();
  spec.index.faiss_factory = c.index().faiss_factory();
  spec.index.nprobe = c.index().nprobe();
  switch (c.index().quantization()) {
    case 0:
      spec.index.quantization = index::Quantization::kNone;
      break;
    case 1:
      spec.index.quantization = index::Quantization::kF16;
      break;
    case 2:
      spec.index.quantization = index::Quantization::kInt8;
      break;
    default:
      return absl::DataLossError("log entry: unknown quantization " +
                                 std::to_string(c.index().quantization()));
  }
  spec.shards = c.shards();
  spec.attributes = c.attributes();
  if (c.has_lexical()) {
    spec.lexical.enabled = c.lexical().enabled();
    auto analyzer = index::lexical::ParseAnalyzerKind(c.lexical().analyzer());
    if (!analyzer.ok()) {
      return absl::DataLossError("log entry: lexical analyzer: " +
                                 std::string(analyzer.status().message()));
    }
    spec.lexical.analyzer = *analyzer;
    spec.lexical.k1 = c.lexical().k1();
    spec.lexical.b = c.lexical().b();
  }
  return spec;
}

}  // namespace

absl::StatusOr<std::string> EncodeLogEntry(const LogEntry& entry) {
  pb::LogEntry msg;
  msg.set_request_id(entry.request_id);
  if (const auto* w = std::get_if<PointWrite>(&entry.op)) {
    auto* b = msg.mutable_points();
    for (const auto& p : w->upserts) ToProto(p, b->add_upserts());
    for (const auto& id : w->deletes) b->add_deletes(id);
    for (const auto& a : w->aux) {
      auto* r = b->add_aux();
      r->set_ns(a.ns);
      r->set_key(a.key);
      r->set_value(a.value);
    }
  } else if (const auto* c = std::get_if<CreateCollection>(&entry.op)) {
    auto* out = msg.mutable_create_collection();
    const index::CollectionSpec& s = c->spec;
    out->set_name(s.name);
    out->set_dimension(s.dimension);
    out->set_metric(ToProto(s.metric));
    auto* ix = out->mutable_index();
    ix->set_kind(ToProto(s.index.kind));
    ix->set_m(s.index.m);
    ix->set_ef_construction(s.index.ef_construction);
    ix->set_ef(s.index.ef);
    ix->set_faiss_factory(s.index.faiss_factory);
    ix->set_nprobe(s.index.nprobe);
    ix->set_quantization(static_cast<int32_t>(s.index.quantization));
    out->set_shards(s.shards);
    out->set_attributes(s.attributes);
    auto* lex = out->mutable_lexical();
    lex->set_enabled(s.lexical.enabled);
    lex->set_analyzer(std::string(index::lexical::AnalyzerKindName(s.lexical.analyzer)));
    lex->set_k1(s.lexical.k1);
    lex->set_b(s.lexical.b);
  } else if (const auto* d = std::get_if<DeleteCollection>(&entry.op)) {
    msg.mutable_delete_collection()->set_name(d->name);
  }
  if (msg.ByteSizeLong() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("log entry: larger than 2 GiB");
  }
  std::string out;
  if (!msg.SerializeToString(&out)) {
    return absl::InvalidArgumentError("log entry: cannot be serialized");
  }
  return out;
}

absl::StatusOr<LogEntry> DecodeLogEntry(std::string_view bytes) {
  pb::LogEntry msg;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("log entry: " + std::to_string(bytes.size()) +
                               " bytes that do not parse as ragd.cluster.v1.LogEntry");
  }
  LogEntry entry;
  entry.request_id = msg.request_id();
  switch (msg.op_case()) {
    case pb::LogEntry::kPoints: {
      PointWrite w;
      w.upserts.reserve(msg.points().upserts_size());
      for (const auto& p : msg.points().upserts()) {
        auto point = FromProto(p);
        if (!point.ok()) return point.status();
        w.upserts.push_back(*std::move(point));
      }
      w.deletes.assign(msg.points().deletes().begin(), msg.points().deletes().end());
      for (const auto& a : msg.points().aux()) w.aux.push_back({a.ns(), a.key(), a.value()});
      entry.op = std::move(w);
      return entry;
    }
    case pb::LogEntry::kCreateCollection: {
      auto spec = FromProto(msg.create_collection());
      if (!spec.ok()) return spec.status();
      entry.op = CreateCollection{*std::move(spec)};
      return entry;
    }
    case pb::LogEntry::kDeleteCollection:
      entry.op = DeleteCollection{msg.delete_collection().name()};
      return entry;
    case pb::LogEntry::OP_NOT_SET:
      break;
  }
  return absl::DataLossError("log entry: no operation set (empty or unknown entry)");
}

}  // namespace ragd::cluster
