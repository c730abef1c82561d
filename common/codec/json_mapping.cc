// The protobuf JSON mapping, both ways: JSON text to an envelope (codec_internal.h,
// JsonToEnvelope, with the parser's type descriptions cached) and any message to JSON (codec.h,
// ToJson).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
// Protobuf's own number and base64 formatters (SimpleDtoa, SimpleFtoa, Base64Escape), used on
// purpose: the reflection printer below must print exactly the bytes protobuf's JSON transcoder
// prints (to_json_test compares both). This header is protobuf 3.21's (Debian 12), not public API.
#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/codec/append_json.h"
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

// The same mapping as the transcoder ToJson falls back to, printed straight from the message by
// reflection: no serialization, no type descriptions copied, one output string. It covers what
// probity.v1 messages hold (scalars, enums, bytes, ASCII strings, nested messages, repeated
// fields, maps, google.protobuf.Timestamp) and gives up (false, *out left partly written) on
// anything else: a string with a code point the transcoder escapes above 0x7f, or bytes that are
// not well-formed UTF-8 (both left to it), another well-known type, a Timestamp out of range. Field
// order, number formats (protobuf's own SimpleDtoa/SimpleFtoa/Base64Escape) and escapes are the
// transcoder's; map entries are printed in key order, as a deterministic serialization orders them.
// codec_test checks the two printers against each other over random messages of every probity.v1
// type.
class FastPrinter {
 public:
  static bool Print(const pb::Message& m, std::string* out) {
    if (m.GetDescriptor()->full_name() == "google.protobuf.Timestamp") return Timestamp(m, out);
    if (m.GetDescriptor()->file()->package() == "google.protobuf") return false;
    const pb::Reflection* r = m.GetReflection();
    std::vector<const pb::FieldDescriptor*> fields;
    r->ListFields(m, &fields);  // set fields, in field-number order (the serialized order)
    out->push_back('{');
    bool first = true;
    for (const pb::FieldDescriptor* f : fields) {
      if (!first) out->push_back(',');
      first = false;
      out->push_back('"');
      out->append(f->name());  // proto field names are [A-Za-z0-9_]
      out->append("\":");
      if (f->is_map()) {
        if (!Map(m, r, f, out)) return false;
      } else if (f->is_repeated()) {
        out->push_back('[');
        const int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out->push_back(',');
          if (!Value(m, r, f, i, out)) return false;
        }
        out->push_back(']');
      } else if (!Value(m, r, f, -1, out)) {
        return false;
      }
    }
    out->push_back('}');
    return true;
  }

 private:
  // The code points above 0x7f the transcoder escapes (\uXXXX) rather than copies, as protobuf
  // 3.21's JSON escaping lists them (checked against it for every code point: to_json_test).
  static bool EscapedByTranscoder(uint32_t cp) {
    return cp <= 0x9f || cp == 0xad || (cp >= 0x600 && cp <= 0x603) || cp == 0x6dd || cp == 0x70f ||
           cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
           (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
           (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);
  }

  // The length of the well-formed UTF-8 sequence (RFC 3629: no overlong form, no surrogate,
  // nothing above U+10FFFF) at the start of s, with its code point in *cp; 0 if there is none.
  static size_t Utf8Sequence(std::string_view s, uint32_t* cp) {
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    size_t n;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2, min = 0x80, *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3, min = 0x800, *cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4, min = 0x10000, *cp = c & 0x07;
    } else {
      return 0;
    }
    if (s.size() < n) return 0;
    for (size_t i = 1; i < n; ++i) {
      if ((b(i) & 0xc0) != 0x80) return 0;
      *cp = (*cp << 6) | (b(i) & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
    return n;
  }

  static bool String(std::string_view s, std::string* out) {
    out->push_back('"');
    for (size_t i = 0; i < s.size(); ++i) {
      const char ch = s[i];
      const auto c = static_cast<unsigned char>(ch);
      if (c >= 0x80) {
        // Copied as it is, as the transcoder does, unless it escapes it (left to it) or the bytes
        // are not well-formed UTF-8 (left to it too).
        uint32_t cp = 0;
        const size_t n = Utf8Sequence(s.substr(i), &cp);
        if (n == 0 || EscapedByTranscoder(cp)) return false;
        out->append(s.data() + i, n);
        i += n - 1;
        continue;
      }
      if (c < 0x20 || c == 0x7f || c == '<' || c == '>') {
        switch (c) {
          case '\b':
            out->append("\\b");
            break;
          case '\t':
            out->append("\\t");
            break;
          case '\n':
            out->append("\\n");
            break;
          case '\f':
            out->append("\\f");
            break;
          case '\r':
            out->append("\\r");
            break;
          default: {
            static constexpr char kHex[] = "0123456789abcdef";
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 15]);
          }
        }
      } else if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(ch);
      } else {
        out->push_back(ch);
      }
    }
    out->push_back('"');
    return true;
  }

  static bool Timestamp(const pb::Message& m, std::string* out) {
    pb::Timestamp ts;
    if (const auto* t = dynamic_cast<const pb::Timestamp*>(&m)) {
      ts = *t;
    } else {
      ts.CopyFrom(m);
    }
    if (ts.seconds() < pb::util::TimeUtil::kTimestampMinSeconds ||
        ts.seconds() > pb::util::TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
        ts.nanos() >= 1'000'000'000) {
      return false;
    }
    // TimeUtil::ToString's text (RFC 3339, UTC, 0, 3, 6 or 9 fractional digits), written here
    // without its printf.
    namespace chrono = std::chrono;
    const chrono::sys_seconds t{chrono::seconds{ts.seconds()}};
    const chrono::sys_days day = chrono::floor<chrono::days>(t);
    const chrono::year_month_day ymd{day};
    const chrono::hh_mm_ss<chrono::seconds> hms{t - day};
    char buf[40];
    char* p = buf;
    const auto digits = [&p](uint32_t v, int width) {
      for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
      p += width;
    };
    *p++ = '"';
    digits(static_cast<uint32_t>(static_cast<int>(ymd.year())), 4);
    *p++ = '-';
    digits(static_cast<unsigned>(ymd.month()), 2);
    *p++ = '-';
    digits(static_cast<unsigned>(ymd.day()), 2);
    *p++ = 'T';
    digits(static_cast<uint32_t>(hms.hours().count()), 2);
    *p++ = ':';
    digits(static_cast<uint32_t>(hms.minutes().count()), 2);
    *p++ = ':';
    digits(static_cast<uint32_t>(hms.seconds().count()), 2);
    const auto nanos = static_cast<uint32_t>(ts.nanos());
    if (nanos != 0) {
      *p++ = '.';
      if (nanos % 1'000'000 == 0) {
        digits(nanos / 1'000'000, 3);
      } else if (nanos % 1'000 == 0) {
        digits(nanos / 1'000, 6);
      } else {
        digits(nanos, 9);
      }
    }
    *p++ = 'Z';
    *p++ = '"';
    out->append(buf, p);
    return true;
  }

  template <typename T>
  static void Float(T v, std::string* out) {
    if (std::isfinite(v)) {
      out->append(sizeof(T) == sizeof(float) ? pb::SimpleFtoa(static_cast<float>(v))
                                             : pb::SimpleDtoa(static_cast<double>(v)));
    } else {
      out->append(std::isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    }
  }

  // Element i of a repeated field, or the singular field when i < 0.
  static bool Value(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                    int i, std::string* out) {
    const bool rep = i >= 0;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        out->append(std::to_string(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f)));
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        out->append(std::to_string(rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f)));
        return true;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        out->push_back('"');
        out->append(std::to_string(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f)));
        out->push_back('"');
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        out->push_back('"');
        out->append(std::to_string(rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f)));
        out->push_back('"');
        return true;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        Float(rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f), out);
        return true;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        Float(rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f), out);
        return true;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out->append((rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true" : "false");
        return true;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const int v = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
        if (const pb::EnumValueDescriptor* e = f->enum_type()->FindValueByNumber(v)) {
          out->push_back('"');
          out->append(e->name());
          out->push_back('"');
        } else {
          out->append(std::to_string(v));
        }
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& s = rep ? r->GetRepeatedStringReference(m, f, i, &scratch)
                                   : r->GetStringReference(m, f, &scratch);
        if (f->type() != pb::FieldDescriptor::TYPE_BYTES) return String(s, out);
        const size_t at = out->size();
        out->resize(at + 2 + pb::CalculateBase64EscapedLen(static_cast<int>(s.size())));
        (*out)[at] = '"';
        const int n = pb::Base64Escape(reinterpret_cast<const unsigned char*>(s.data()),
                                       static_cast<int>(s.size()), out->data() + at + 1,
                                       static_cast<int>(out->size() - at - 2));
        out->resize(at + 1 + n);
        out->push_back('"');
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        return Print(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f), out);
    }
    return false;
  }

  // A map field: {"key":value,...} in key order. Keys are printed as JSON strings.
  static bool Map(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                  std::string* out) {
    const pb::Descriptor* entry = f->message_type();
    const pb::FieldDescriptor* key = entry->map_key();
    const pb::FieldDescriptor* value = entry->map_value();
    if (key->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) return false;
    const int n = r->FieldSize(m, f);
    std::vector<const pb::Message*> entries;
    entries.reserve(n);
    for (int i = 0; i < n; ++i) entries.push_back(&r->GetRepeatedMessage(m, f, i));
    if (n == 0) return false;  // not a set field
    const pb::Reflection* er = entries[0]->GetReflection();
    std::stable_sort(entries.begin(), entries.end(),
                     [&](const pb::Message* a, const pb::Message* b) {
                       return er->GetString(*a, key) < er->GetString(*b, key);
                     });
    out->push_back('{');
    bool first = true;
    for (int i = 0; i < n; ++i) {
      // A key set twice (possible through reflection) holds its last value, as in the map.
      if (i + 1 < n && er->GetString(*entries[i], key) == er->GetString(*entries[i + 1], key)) {
        continue;
      }
      if (!first) out->push_back(',');
      first = false;
      if (!String(er->GetString(*entries[i], key), out)) return false;
      out->push_back(':');
      if (!Value(*entries[i], er, value, -1, out)) return false;
    }
    out->push_back('}');
    return true;
  }
};

// The message's bytes with map entries in key order, so that the transcoder prints maps the same
// way every time (and as FastPrinter does).
std::string Deterministic(const pb::Message& message) {
  std::string bytes;
  {
    pb::io::StringOutputStream stream(&bytes);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

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

void AppendJson(const pb::Message& message, std::string* out) {
  const size_t at = out->size();
  if (FastPrinter::Print(message, out)) return;
  out->resize(at);  // what the direct printer wrote before it gave up
  out->append(ToJson(message));
}

std::string ToJson(const pb::Message& message, const JsonOptions& json_options) {
  std::string out;
  if (!json_options.print_defaults && FastPrinter::Print(message, &out)) return out;
  out.clear();
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = json_options.print_defaults;
  try {
    // What MessageToJsonString does in protobuf 3.21 (serialize, then the binary-to-JSON
    // transcoder through a type resolver), with the types resolved once per process.
    const pb::Descriptor* d = message.GetDescriptor();
    if (d->file()->pool() != pb::DescriptorPool::generated_pool()) {
      if (!pb::util::MessageToJsonString(message, &out, options).ok()) return "";
    } else if (!pb::util::BinaryToJsonString(SharedResolver(),
                                             CachedTypeResolver::Url(d->full_name()),
                                             Deterministic(message), &out, options)
                    .ok()) {
      return "";
    }
  } catch (...) {
    return "";
  }
  return out;
}

}  // namespace probity::codec
