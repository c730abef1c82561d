// The protobuf JSON mapping, both ways: JSON text to an envelope (codec_internal.h,
// JsonToEnvelope, with the parser's type descriptions cached) and any message to JSON (codec.h,
// ToJson).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/codec/codec.h"
#include "common/codec/codec_internal.h"
#include "common/codec/hygiene.h"

namespace probity::codec {
namespace {

namespace pb = ::google::protobuf;
namespace v1 = ::probity::v1;

constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com";

// A TypeResolver that answers for the envelope's message and enum types from copies made once,
// instead of converting their descriptors again for every message as protobuf's generated-pool
// resolver does (JsonStringToMessage resolves every type it meets on each call). The copies are
// that resolver's own answers, so the JSON parser sees the same types; anything else is passed
// to it. Immutable after construction, so safe to share between threads.
class CachedTypeResolver : public pb::util::TypeResolver {
 public:
  CachedTypeResolver()
      : base_(pb::util::NewTypeResolverForDescriptorPool(std::string(kTypeUrlPrefix),
                                                         pb::DescriptorPool::generated_pool())) {
    for (const pb::Descriptor* d : internal::ReachableMessageTypes()) {
      pb::Type type;
      std::string url = Url(d->full_name());
      if (base_->ResolveMessageType(url, &type).ok()) messages_.emplace(url, std::move(type));
      for (int i = 0; i < d->field_count(); ++i) {
        if (const pb::EnumDescriptor* e = d->field(i)->enum_type()) {
          pb::Enum en;
          std::string enum_url = Url(e->full_name());
          if (base_->ResolveEnumType(enum_url, &en).ok()) enums_.emplace(enum_url, std::move(en));
        }
      }
    }
  }

  pb::util::Status ResolveMessageType(const std::string& type_url, pb::Type* type) override {
    auto it = messages_.find(type_url);
    if (it == messages_.end()) return base_->ResolveMessageType(type_url, type);
    *type = it->second;
    return pb::util::Status();
  }

  pb::util::Status ResolveEnumType(const std::string& type_url, pb::Enum* enum_type) override {
    auto it = enums_.find(type_url);
    if (it == enums_.end()) return base_->ResolveEnumType(type_url, enum_type);
    *enum_type = it->second;
    return pb::util::Status();
  }

  static std::string Url(const std::string& full_name) {
    return std::string(kTypeUrlPrefix) + "/" + full_name;
  }

 private:
  std::unique_ptr<pb::util::TypeResolver> base_;
  std::map<std::string, pb::Type, std::less<>> messages_;
  std::map<std::string, pb::Enum, std::less<>> enums_;
};

}  // namespace

namespace internal {

// What pb::util::JsonStringToMessage(json, envelope, options) does in protobuf 3.21 (JSON to
// binary through the type resolver, then a binary parse), with the cached resolver.
pb::util::Status JsonToEnvelope(std::string_view json, v1::Envelope* envelope,
                                const pb::util::JsonParseOptions& options) {
  static CachedTypeResolver* const resolver = new CachedTypeResolver();  // never destroyed
  static const std::string envelope_url =
      CachedTypeResolver::Url(v1::Envelope::descriptor()->full_name());
  std::string binary;
  pb::util::Status st = pb::util::JsonToBinaryString(
      resolver, envelope_url, pb::StringPiece(json.data(), json.size()), &binary, options);
  if (st.ok() && !envelope->ParseFromString(binary)) {
    st = pb::util::InvalidArgumentError("JSON transcoder produced invalid protobuf output.");
  }
  return st;
}

}  // namespace internal

std::string ToJson(const pb::Message& message) { return ToJson(message, JsonOptions{}); }

std::string ToJson(const pb::Message& message, const JsonOptions& json_options) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = json_options.print_defaults;
  std::string out;
  try {
    if (!pb::util::MessageToJsonString(message, &out, options).ok()) return "";
  } catch (...) {
    return "";
  }
  return out;
}

}  // namespace probity::codec
