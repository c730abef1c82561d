// ToJson prints straight from the message (a reflection printer) where it can, and through
// protobuf's transcoder otherwise: over random messages of every probity.v1 type, with the edge
// cases of the mapping (every ASCII character, non-ASCII bytes, NaN and infinities, -0, extreme
// integers, unknown enum numbers, timestamps in and out of range, maps), the answer is the
// transcoder's, byte for byte.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/codec/append_json.h"
#include "common/codec/codec.h"
#include "probity/v1/api.pb.h"
#include "probity/v1/bundle.pb.h"
#include "probity/v1/events.pb.h"
#include "probity/v1/proofs.pb.h"

namespace probity::codec {
namespace {

namespace pb = ::google::protobuf;

void RandomFill(pb::Message* m, std::mt19937_64* rng, int depth) {
  auto pick = [&](size_t n) { return static_cast<size_t>((*rng)() % n); };
  const pb::Descriptor* d = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  if (d->full_name() == "google.protobuf.Timestamp") {
    auto* ts = static_cast<pb::Timestamp*>(m);
    const int64_t secs[] = {1680307200,
                            0,
                            static_cast<int64_t>((*rng)() % 4000000000),
                            253402300799,
                            -62135596800,
                            253402300800,
                            -62135596801};
    const int32_t nanos[] = {0, 5000000, 123456000, 999999999, 1, -1, 1000000000};
    ts->set_seconds(secs[pick(10) == 0 ? pick(7) : pick(3)]);
    ts->set_nanos(nanos[pick(10) == 0 ? pick(7) : pick(5)]);
    return;
  }
  auto text = [&](bool bytes) {
    // Strings: ASCII, now and then a non-ASCII character (valid UTF-8: a string field holds no
    // other); bytes: anything.
    static const char* const kWide[] = {"\u00e9", "\u2028", "\u00ad", "\U0001F600"};
    std::string s;
    const size_t n = pick(14);
    for (size_t i = 0; i < n; ++i) {
      if (!bytes && pick(40) == 0) {
        s += kWide[pick(4)];
      } else {
        s.push_back(static_cast<char>(pick(bytes ? 256 : 128)));
      }
    }
    return s;
  };
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (pick(10) < 4) continue;
    const bool rep = f->is_repeated();
    const int n = rep ? static_cast<int>(pick(4)) : 1;
    for (int k = 0; k < n; ++k) {
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: {
          const int32_t v[] = {0, 1, -1, INT32_MIN, INT32_MAX, static_cast<int32_t>((*rng)())};
          rep ? r->AddInt32(m, f, v[pick(6)]) : r->SetInt32(m, f, v[pick(6)]);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT32: {
          const uint32_t v[] = {0, 1, UINT32_MAX, static_cast<uint32_t>((*rng)())};
          rep ? r->AddUInt32(m, f, v[pick(4)]) : r->SetUInt32(m, f, v[pick(4)]);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_INT64: {
          const int64_t v[] = {0, -1, INT64_MIN, INT64_MAX, static_cast<int64_t>((*rng)())};
          rep ? r->AddInt64(m, f, v[pick(5)]) : r->SetInt64(m, f, v[pick(5)]);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT64: {
          const uint64_t v[] = {0, 1, UINT64_MAX, (*rng)()};
          rep ? r->AddUInt64(m, f, v[pick(4)]) : r->SetUInt64(m, f, v[pick(4)]);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        case pb::FieldDescriptor::CPPTYPE_FLOAT: {
          const double v[] = {0.0,
                              -0.0,
                              1.5,
                              0.1,
                              1.0 / 3,
                              -2.5e-300,
                              1e300,
                              123456789.125,
                              std::numeric_limits<double>::quiet_NaN(),
                              std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity(),
                              static_cast<double>((*rng)() % 100000) / 7};
          const double x = v[pick(12)];
          if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
            rep ? r->AddDouble(m, f, x) : r->SetDouble(m, f, x);
          } else {
            rep ? r->AddFloat(m, f, static_cast<float>(x))
                : r->SetFloat(m, f, static_cast<float>(x));
          }
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_BOOL:
          rep ? r->AddBool(m, f, pick(2)) : r->SetBool(m, f, pick(2));
          break;
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const pb::EnumDescriptor* e = f->enum_type();
          const int v =
              pick(8) == 0 ? 97 : e->value(static_cast<int>(pick(e->value_count())))->number();
          rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          const std::string v = text(f->type() == pb::FieldDescriptor::TYPE_BYTES);
          rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth >= 4 && !f->is_map()) break;
          RandomFill(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), rng, depth + 1);
          break;
      }
    }
  }
}

// protobuf's own printer over a deterministic serialization (map entries in key order).
std::string TranscoderJson(const pb::Message& m) {
  static pb::util::TypeResolver* const resolver = pb::util::NewTypeResolverForDescriptorPool(
      "type.googleapis.com", pb::DescriptorPool::generated_pool());
  std::string bytes;
  {
    pb::io::StringOutputStream stream(&bytes);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  pb::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  const std::string url = "type.googleapis.com/" + m.GetDescriptor()->full_name();
  if (!pb::util::BinaryToJsonString(resolver, url, bytes, &out, o).ok()) return "";
  return out;
}

TEST(CodecToJson, PrintsWhatProtobufsTranscoderPrintsForEveryProbityMessage) {
  std::mt19937_64 rng(20261201);
  int types = 0, messages = 0, plain = 0;
  // Every file's types linked in (the generated pool knows a file once its code is).
  ASSERT_NE(v1::EntryResponse::descriptor(), nullptr);
  ASSERT_NE(v1::EntryProof::descriptor(), nullptr);
  ASSERT_NE(v1::DisputeBundle::descriptor(), nullptr);
  std::vector<const pb::Descriptor*> all;
  std::function<void(const pb::Descriptor*)> add = [&](const pb::Descriptor* d) {
    if (d->options().map_entry()) return;
    all.push_back(d);
    for (int i = 0; i < d->nested_type_count(); ++i) add(d->nested_type(i));
  };
  for (const char* file :
       {"probity/v1/events.proto", "probity/v1/log.proto", "probity/v1/proofs.proto",
        "probity/v1/api.proto", "probity/v1/bundle.proto", "probity/v1/delivery.proto",
        "probity/v1/ops.proto"}) {
    const pb::FileDescriptor* fd = pb::DescriptorPool::generated_pool()->FindFileByName(file);
    if (fd == nullptr) continue;  // not linked into this test
    for (int t = 0; t < fd->message_type_count(); ++t) add(fd->message_type(t));
  }
  {
    for (const pb::Descriptor* d : all) {
      const pb::Message* proto = pb::MessageFactory::generated_factory()->GetPrototype(d);
      ++types;
      for (int i = 0; i < 60; ++i) {
        std::unique_ptr<pb::Message> m(proto->New());
        RandomFill(m.get(), &rng, 0);
        const std::string want = TranscoderJson(*m);
        ASSERT_EQ(ToJson(*m), want)
            << m->GetDescriptor()->full_name() << " " << m->ShortDebugString();
        std::string appended = "{\"x\":1}\n";  // AppendJson: the same text, after what was there
        AppendJson(*m, &appended);
        ASSERT_EQ(appended, "{\"x\":1}\n" + want) << m->GetDescriptor()->full_name();
        ++messages;
        plain += !want.empty() && want.find("\\u") == std::string::npos;
      }
    }
  }
  std::printf("%d types, %d messages, %d printed without escapes\n", types, messages, plain);
  EXPECT_GE(types, 40);
  EXPECT_GT(plain, messages / 10);  // the direct printer's cases, not only the fallback's
  pb::Timestamp ts;
  ts.set_seconds(1680307200);
  ts.set_nanos(120000000);
  EXPECT_EQ(ToJson(ts), "\"2023-04-01T00:00:00.120Z\"");
  EXPECT_EQ(ToJson(v1::Envelope()), "{}");
}

// Strings above ASCII: every code point of the Basic Multilingual Plane and the ranges around
// the ones the transcoder escapes beyond it, alone and inside ASCII text (a checkpoint's note
// holds an em dash, U+2014), and bytes that are not well-formed UTF-8 (overlong forms,
// surrogates, truncated and stray bytes), print as the transcoder prints them.
TEST(CodecToJson, PrintsEveryCodePointAsTheTranscoderDoes) {
  const auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
    return s;
  };
  std::vector<std::string> texts;
  for (uint32_t cp = 0x80; cp <= 0xffff; ++cp) {
    if (cp < 0xd800 || cp > 0xdfff) texts.push_back(utf8(cp));
  }
  for (uint32_t cp : {0x10000u, 0x1d172u, 0x1d173u, 0x1d17au, 0x1d17bu, 0x1f600u, 0xe0000u,
                      0xe0001u, 0xe0002u, 0xe001fu, 0xe0020u, 0xe007fu, 0xe0080u, 0x10ffffu}) {
    texts.push_back(utf8(cp));
  }
  for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\xe2\x80", "\x80", "\xff", "\xf0\x9f\x98"}) {
    texts.push_back(bad);
  }
  int copied = 0;
  for (const std::string& t : texts) {
    for (const std::string& s : {t, "\xe2\x80\x94 probity " + t + " log\n"}) {
      v1::ApiError m;
      m.set_message(s);
      const std::string want = TranscoderJson(m);
      ASSERT_EQ(ToJson(m), want) << "string " << s;
      copied += want.find("\\u") == std::string::npos;
    }
  }
  EXPECT_GT(copied, 60000);  // most code points are copied as they are
  v1::Checkpoint c;
  c.set_signed_note("probity.example/log\n1\nAAAA\n\n\u2014 probity.example/log abc=\n");
  EXPECT_EQ(ToJson(c), TranscoderJson(c));
  EXPECT_NE(ToJson(c).find("\u2014"), std::string::npos);  // the em dash itself, unescaped
}

// Timestamps over the whole range protobuf accepts (years 1 to 9999, leap days, each width of
// fraction) print as TimeUtil::ToString prints them.
TEST(CodecToJson, PrintsTimestampsAsTimeUtilDoes) {
  std::mt19937_64 rng(13);
  const int64_t lo = pb::util::TimeUtil::kTimestampMinSeconds;
  const int64_t hi = pb::util::TimeUtil::kTimestampMaxSeconds;
  const int32_t nanos[] = {0, 1, 999999999, 5000000, 123000000, 123456000, 120, 999000};
  std::vector<int64_t> seconds = {lo, hi, 0, -1, 951782400, 951868800, 1680307200, 4102444800};
  for (int i = 0; i < 20000; ++i) {
    seconds.push_back(lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1)));
  }
  for (int64_t day = -800; day <= 800; ++day) seconds.push_back(951782400 + day * 86400 - 1);
  for (size_t i = 0; i < seconds.size(); ++i) {
    pb::Timestamp ts;
    ts.set_seconds(seconds[i]);
    ts.set_nanos(nanos[i % 8]);
    ASSERT_EQ(ToJson(ts), "\"" + pb::util::TimeUtil::ToString(ts) + "\"") << ts.DebugString();
  }
}

}  // namespace
}  // namespace probity::codec
