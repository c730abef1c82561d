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
#include "common/sync/mutex.h"

namespace probity::codec {
namespace {

namespace pb = ::google::protobuf;
namespace v1 = ::probity::v1;

constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com";

// A TypeResolver that answers from copies of the generated-pool resolver's answers, made once per
// type, instead of converting descriptors again for every message as that resolver does
// (JsonStringToMessage and MessageToJsonString resolve every type they meet on each call). The
// envelope's types are copied at construction; any other type (the api's bodies, say) the first
// time it is asked for. The copies are that resolver's own answers, so the JSON parser and
// printer see the same types. Thread-safe.
class CachedTypeResolver : public pb::util::TypeResolver {
 public:
  CachedTypeResolver()
      : base_(pb::util::NewTypeResolverForDescriptorPool(std::string(kTypeUrlPrefix),
                                                         pb::DescriptorPool::generated_pool())) {
    MutexLock l(&mu_);
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

  pb::util::Status ResolveMessageType(const std::string& type_url, pb::Type* type) override
      EXCLUDES(mu_) {
    return Resolve(&messages_, type_url, type, [this](const std::string& url, pb::Type* t) {
      return base_->ResolveMessageType(url, t);
    });
  }

  pb::util::Status ResolveEnumType(const std::string& type_url, pb::Enum* enum_type) override
      EXCLUDES(mu_) {
    return Resolve(&enums_, type_url, enum_type, [this](const std::string& url, pb::Enum* e) {
      return base_->ResolveEnumType(url, e);
    });
  }

  static std::string Url(const std::string& full_name) {
    return std::string(kTypeUrlPrefix) + "/" + full_name;
  }

 private:
  // The cached copy, or the base resolver's answer, cached when it is an answer.
  template <typename T, typename Base>
  pb::util::Status Resolve(std::map<std::string, T, std::less<>>* cache, const std::string& url,
                           T* out, const Base& base) EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      auto it = cache->find(url);
      if (it != cache->end()) {
        *out = it->second;
        return pb::util::Status();
      }
    }
    pb::util::Status st = base(url, out);
    if (st.ok()) {
      MutexLock l(&mu_);
      cache->emplace(url, *out);
    }
    return st;
  }

  std::unique_ptr<pb::util::TypeResolver> base_;
  Mutex mu_;
  std::map<std::string, pb::Type, std::less<>> messages_ GUARDED_BY(mu_);
  std::map<std::string, pb::Enum, std::less<>> enums_ GUARDED_BY(mu_);
};

CachedTypeResolver* SharedResolver() {
  static CachedTypeResolver* const resolver = new CachedTypeResolver();  // never destroyed
  return resolver;
}

}  // namespace

namespace internal {

// What pb::util::JsonStringToMessage(json, envelope, options) does in protobuf 3.21 (JSON to
// binary through the type resolver, then a binary parse), with the cached resolver.
pb::util::Status JsonToEnvelope(std::string_view json, v1::Envelope* envelope,
                                const pb::util::JsonParseOptions& options) {
  CachedTypeResolver* const resolver = SharedResolver();
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
    // What MessageToJsonString does in protobuf 3.21 (serialize, then the binary-to-JSON
    // transcoder through a type resolver), with the types resolved once per process.
    const pb::Descriptor* d = message.GetDescriptor();
    if (d->file()->pool() != pb::DescriptorPool::generated_pool()) {
      if (!pb::util::MessageToJsonString(message, &out, options).ok()) return "";
    } else if (!pb::util::BinaryToJsonString(SharedResolver(),
                                             CachedTypeResolver::Url(d->full_name()),
                                             message.SerializeAsString(), &out, options)
                    .ok()) {
      return "";
    }
  } catch (...) {
    return "";
  }
  return out;
}

}  // namespace probity::codec
