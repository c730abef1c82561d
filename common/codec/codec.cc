#include "common/codec/codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <utility>

#include "common/bus/topics.h"
#include "common/codec/codec_internal.h"
#include "common/codec/reason_codes.h"

namespace probity::codec {
namespace {

namespace pb = ::google::protobuf;
namespace v1 = ::probity::v1;

using Result = std::optional<Rejection>;

// Returns early with the rejection if `expr` produced one.
#define CODEC_RETURN_IF_REJECTED(expr) \
  do {                                 \
    if (Result _r = (expr)) return _r; \
  } while (0)

// Limits on string fields (bytes).
constexpr size_t kMaxIdLength = 128;     // ids and references
constexpr size_t kMaxCodeLength = 32;    // service / indicator codes
constexpr size_t kMaxNameLength = 256;   // names, specialties, peer groups, decided_by
constexpr size_t kMaxTextLength = 4096;  // free text: reasons, summaries

constexpr int64_t kMinSeconds = -62135596800;    // 0001-01-01T00:00:00Z, Timestamp's own range
constexpr int64_t kMaxSeconds = 253402300799;    // 9999-12-31T23:59:59Z
constexpr int64_t kEarliestSeconds = 946684800;  // 2000-01-01T00:00:00Z
constexpr int64_t kMicrosPerSecond = 1000000;

Rejection Reject(std::string_view code, std::string message) {
  return Rejection{std::string(code), std::move(message)};
}

// 'value' with quotes, backslashes and non-printable bytes escaped and long values truncated, so
// a message built from any input stays one line of printable ASCII.
std::string Quote(std::string_view value, size_t max_chars = 64) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : value) {
    if (n++ == max_chars) {
      out += "...";
      break;
    }
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += "'";
  return out;
}

// Keeps printable ASCII, replaces anything else (protobuf's parser messages may echo input).
std::string Sanitize(std::string_view s, size_t max_chars = 300) {
  std::string q = Quote(s, max_chars);
  return q.substr(1, q.size() - 2);
}

bool IsVisibleAscii(unsigned char c) { return c > 0x20 && c < 0x7f; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---- Field checks. Each returns nullopt when the field is acceptable. ----

Result CheckLength(std::string_view field, std::string_view value, size_t max_len) {
  if (value.size() > max_len) {
    return Reject(reason::kFieldTooLong,
                  std::string(field) + " is " + std::to_string(value.size()) +
                      " bytes, over the limit of " + std::to_string(max_len));
  }
  return std::nullopt;
}

Result CheckRequired(std::string_view field, std::string_view value) {
  if (value.empty()) return Reject(reason::kMissingField, std::string(field) + " is required");
  return std::nullopt;
}

// An identifier: 1..max_len visible ASCII characters (0x21-0x7e: no spaces, no control bytes).
Result CheckId(std::string_view field, std::string_view value, bool required,
               size_t max_len = kMaxIdLength) {
  if (value.empty()) {
    return required ? CheckRequired(field, value) : std::nullopt;
  }
  CODEC_RETURN_IF_REJECTED(CheckLength(field, value, max_len));
  for (unsigned char c : value) {
    if (!IsVisibleAscii(c)) {
      return Reject(reason::kInvalidIdentifier,
                    std::string(field) + " " + Quote(value) +
                        " must be printable ASCII without spaces (0x21-0x7e)");
    }
  }
  return std::nullopt;
}

// Free text: any UTF-8 (protobuf has already checked the encoding), bounded in length.
Result CheckText(std::string_view field, std::string_view value, bool required, size_t max_len) {
  if (required) CODEC_RETURN_IF_REJECTED(CheckRequired(field, value));
  return CheckLength(field, value, max_len);
}

bool IsOdsPracticeCode(std::string_view v) {
  if (v.size() != 6 || !IsUpper(v[0])) return false;
  for (size_t i = 1; i < 6; ++i) {
    if (!IsDigit(v[i])) return false;
  }
  return true;
}

Result CheckOds(std::string_view field, std::string_view value, bool required) {
  if (value.empty()) return required ? CheckRequired(field, value) : std::nullopt;
  if (!IsOdsPracticeCode(value)) {
    return Reject(reason::kInvalidOdsCode,
                  std::string(field) + " " + Quote(value) +
                      " is not an ODS practice code (an uppercase letter and five digits, e.g. "
                      "A81001)");
  }
  return std::nullopt;
}

// Other organisation codes (provider, region, ICB, sub-ICB): 3 to 6 uppercase letters or digits.
Result CheckOrgCode(std::string_view field, std::string_view value) {
  if (value.empty()) return std::nullopt;
  bool ok = value.size() >= 3 && value.size() <= 6;
  for (char c : value) ok = ok && (IsUpper(c) || IsDigit(c));
  if (!ok) {
    return Reject(reason::kInvalidOrgCode,
                  std::string(field) + " " + Quote(value) +
                      " is not an ODS organisation code (3 to 6 uppercase letters or digits)");
  }
  return std::nullopt;
}

// Lowercase hex SHA-256: exactly 64 of [0-9a-f].
Result CheckHexDigest(std::string_view field, std::string_view value, bool required) {
  if (value.empty()) return required ? CheckRequired(field, value) : std::nullopt;
  bool ok = value.size() == 64;
  for (char c : value) ok = ok && IsLowerHex(c);
  if (!ok) {
    return Reject(reason::kInvalidHexDigest,
                  std::string(field) + " " + Quote(value) +
                      " is not a SHA-256 in lowercase hex (64 of 0-9a-f)");
  }
  return std::nullopt;
}

// A required enum must not be its UNSPECIFIED (0) value. Values outside the enum are rejected
// earlier, for every enum field, by CheckUnknownEnums().
Result CheckEnumSet(std::string_view field, int value, const pb::EnumDescriptor* type) {
  if (value == 0) {
    const pb::EnumValueDescriptor* zero = type->FindValueByNumber(0);
    return Reject(reason::kMissingField, std::string(field) + " is required (got " +
                                             (zero ? zero->name() : std::string("0")) + ")");
  }
  return std::nullopt;
}

Result CheckRange(std::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Reject(reason::kValueOutOfRange, std::string(field) + " " + std::to_string(value) +
                                                " is outside " + std::to_string(lo) + ".." +
                                                std::to_string(hi));
  }
  return std::nullopt;
}

std::string FormatDouble(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

Result CheckFinite(std::string_view field, double value) {
  if (!std::isfinite(value)) {
    return Reject(reason::kNonFiniteNumber,
                  std::string(field) + " " + FormatDouble(value) + " is not a finite number");
  }
  return std::nullopt;
}

// A finite double in [lo, hi]; with `lo_exclusive`, in (lo, hi].
Result CheckDoubleRange(std::string_view field, double value, double lo, double hi,
                        bool lo_exclusive = false) {
  CODEC_RETURN_IF_REJECTED(CheckFinite(field, value));
  bool below = lo_exclusive ? value <= lo : value < lo;
  if (below || value > hi) {
    return Reject(reason::kValueOutOfRange, std::string(field) + " " + FormatDouble(value) +
                                                " is outside " + (lo_exclusive ? "(" : "[") +
                                                FormatDouble(lo) + ", " + FormatDouble(hi) + "]");
  }
  return std::nullopt;
}

std::string FormatTimestamp(const pb::Timestamp& ts) {
  return "{seconds: " + std::to_string(ts.seconds()) + ", nanos: " + std::to_string(ts.nanos()) +
         "}";
}

std::string FormatMicros(Micros m) {
  // Only called for valid timestamps: seconds within Timestamp's range, so gmtime works.
  int64_t secs = m / kMicrosPerSecond;
  if (m % kMicrosPerSecond < 0) --secs;
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(m) + "us";
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

enum class Future { kAllowed, kBounded };

// A timestamp that is set must be within Timestamp's range, have nanos in [0, 1e9), be no
// earlier than 2000-01-01 and, for kBounded, no later than now + max_future_skew. On success
// stores its value in *out (untouched when the field is unset and not required).
Result CheckTimestamp(std::string_view field, bool has, const pb::Timestamp& ts, bool required,
                      Future future, const Policy& policy, Micros now, Micros* out) {
  if (!has) {
    if (required) return Reject(reason::kMissingField, std::string(field) + " is required");
    return std::nullopt;
  }
  if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return Reject(reason::kInvalidTimestamp,
                  std::string(field) + " " + FormatTimestamp(ts) +
                      " is not a valid timestamp (0001-01-01..9999-12-31, nanos 0..999999999)");
  }
  Micros m = ts.seconds() * kMicrosPerSecond + ts.nanos() / 1000;
  if (ts.seconds() < kEarliestSeconds) {
    return Reject(reason::kTimestampTooEarly,
                  std::string(field) + " " + FormatMicros(m) + " is before 2000-01-01T00:00:00Z");
  }
  if (future == Future::kBounded) {
    Micros ahead;
    bool overflow = __builtin_sub_overflow(m, now, &ahead);
    if (overflow ? m > now : ahead > policy.max_future_skew) {
      return Reject(reason::kTimestampInFuture,
                    std::string(field) + " " + FormatMicros(m) + " is more than " +
                        std::to_string(policy.max_future_skew / kMicrosPerSecond) +
                        " s after the time of ingest");
    }
  }
  *out = m;
  return std::nullopt;
}

// `later` must be strictly after `earlier`.
Result CheckOrder(std::string_view earlier_field, Micros earlier, std::string_view later_field,
                  Micros later) {
  if (later <= earlier) {
    return Reject(reason::kTimestampsOutOfOrder,
                  std::string(later_field) + " " + FormatMicros(later) + " must be after " +
                      std::string(earlier_field) + " " + FormatMicros(earlier));
  }
  return std::nullopt;
}

// ---- Whole-message checks by reflection. ----

std::string WireTypeName(pb::UnknownField::Type t) {
  switch (t) {
    case pb::UnknownField::TYPE_VARINT:
      return "varint";
    case pb::UnknownField::TYPE_FIXED32:
      return "fixed32";
    case pb::UnknownField::TYPE_FIXED64:
      return "fixed64";
    case pb::UnknownField::TYPE_LENGTH_DELIMITED:
      return "length-delimited";
    case pb::UnknownField::TYPE_GROUP:
      return "group";
  }
  return "unknown";
}

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Rejects fields this schema does not define (kept by the binary parser) and enum numbers
// outside their enum (kept by proto3's open enums), anywhere in the message. `path` names the
// message for the reason message ("" for the envelope).
//
// This is the reference check, by reflection. It is slow (ListFields, a path string per field), so
// Validate() first runs WholeMessageIsClean() below and calls this only when that finds a problem,
// to name the first one; the rejection is therefore always exactly this function's.
Result CheckUnknown(const pb::Message& msg, const std::string& path) {
  const pb::Reflection* r = msg.GetReflection();
  const pb::UnknownFieldSet& unknown = r->GetUnknownFields(msg);
  if (!unknown.empty()) {
    const pb::UnknownField& f = unknown.field(0);
    return Reject(reason::kUnknownField, (path.empty() ? std::string("envelope") : path) +
                                             " has field number " + std::to_string(f.number()) +
                                             " (" + WireTypeName(f.type()) +
                                             "), which schema version 1 does not define");
  }
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const pb::FieldDescriptor* fd : fields) {
    if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
      const pb::EnumDescriptor* type = fd->enum_type();
      int n = fd->is_repeated() ? r->FieldSize(msg, fd) : 1;
      for (int i = 0; i < n; ++i) {
        int v = fd->is_repeated() ? r->GetRepeatedEnumValue(msg, fd, i) : r->GetEnumValue(msg, fd);
        if (type->FindValueByNumber(v) == nullptr) {
          return Reject(reason::kUnknownEnumValue, Join(path, fd->name()) + " " +
                                                       std::to_string(v) + " is not a known " +
                                                       type->name() + " value");
        }
      }
    } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      std::string name = Join(path, fd->name());
      if (fd->is_repeated()) {
        for (int i = 0; i < r->FieldSize(msg, fd); ++i) {
          CODEC_RETURN_IF_REJECTED(CheckUnknown(r->GetRepeatedMessage(msg, fd, i),
                                                name + "[" + std::to_string(i) + "]"));
        }
      } else {
        CODEC_RETURN_IF_REJECTED(CheckUnknown(r->GetMessage(msg, fd), name));
      }
    }
  }
  return std::nullopt;
}

// ---- The same check, fast, with the generated code. ----
//
// WholeMessageIsClean(envelope) is true iff CheckUnknown(envelope, "") finds nothing: no message
// of the envelope has unknown fields and every enum field holds a number of its enum. It reads
// each message that exists once, through generated accessors and generated *_IsValid(), with one
// reflection call per message for its unknown fields, no allocation and no strings.
//
// It is written out for schema version 1 (the messages and fields below). kFastCheckedFields lists
// every enum- and message-typed field it looks at; FastCheckCoversSchema() compares that list
// with the schema compiled in, and if a field was added without being handled here, Validate()
// uses CheckUnknown() alone (correct, only slower) and codec_test fails.

constexpr std::string_view kFastCheckedFields[] = {
    "probity.v1.Envelope.kind",
    "probity.v1.Envelope.occurred_at",
    "probity.v1.Envelope.recorded_at",
    "probity.v1.Envelope.claim",
    "probity.v1.Envelope.referral",
    "probity.v1.Envelope.patient_contact",
    "probity.v1.Envelope.monitoring_visit",
    "probity.v1.Envelope.practice_update",
    "probity.v1.Envelope.rule_set",
    "probity.v1.Envelope.flag",
    "probity.v1.Envelope.flag_decision",
    "probity.v1.Envelope.payment_instruction",
    "probity.v1.Claim.stream",
    "probity.v1.Claim.period_start",
    "probity.v1.Claim.period_end",
    "probity.v1.Claim.status",
    "probity.v1.Referral.priority",
    "probity.v1.PatientContact.mode",
    "probity.v1.PatientContact.attendance",
    "probity.v1.MonitoringVisit.type",
    "probity.v1.MonitoringVisit.outcome",
    "probity.v1.MonitoringVisit.notice_issued_at",
    "probity.v1.MonitoringVisit.remedy_due_at",
    "probity.v1.PracticeUpdate.contract_type",
    "probity.v1.PracticeUpdate.rurality",
    "probity.v1.Flag.severity",
    "probity.v1.Flag.window_start",
    "probity.v1.Flag.window_end",
    "probity.v1.Flag.baseline",
    "probity.v1.Flag.evidence",
    "probity.v1.FlagDecision.outcome",
    "probity.v1.PaymentInstruction.action",
};

// The envelope's message type and every message type reachable from it through its fields, each
// once, the envelope first.
const std::vector<const pb::Descriptor*>& ReachableMessageTypes() {
  static const std::vector<const pb::Descriptor*> types = [] {
    std::vector<const pb::Descriptor*> found = {v1::Envelope::descriptor()};
    for (size_t next = 0; next < found.size(); ++next) {  // breadth first; `found` grows
      const pb::Descriptor* d = found[next];
      for (int i = 0; i < d->field_count(); ++i) {
        const pb::Descriptor* m = d->field(i)->message_type();
        if (m != nullptr && std::find(found.begin(), found.end(), m) == found.end()) {
          found.push_back(m);
        }
      }
    }
    return found;
  }();
  return types;
}

// Every enum- or message-typed field of every message type reachable from the envelope, by full
// name, sorted.
std::vector<std::string> SchemaCheckedFields() {
  std::vector<std::string> out;
  for (const pb::Descriptor* d : ReachableMessageTypes()) {
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* fd = d->field(i);
      if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM ||
          fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        out.push_back(fd->full_name());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ComputeFastCheckCoversSchema() {
  std::vector<std::string> handled(std::begin(kFastCheckedFields), std::end(kFastCheckedFields));
  std::sort(handled.begin(), handled.end());
  // Timestamp must still be the well-known type with only scalar fields.
  const pb::Descriptor* ts = pb::Timestamp::descriptor();
  for (int i = 0; i < ts->field_count(); ++i) {
    pb::FieldDescriptor::CppType t = ts->field(i)->cpp_type();
    if (t == pb::FieldDescriptor::CPPTYPE_ENUM || t == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return false;
    }
  }
  return handled == SchemaCheckedFields();
}

// No unknown fields in `m` itself (one reflection call; the Reflection is looked up once per type).
template <typename M>
bool NoUnknownFields(const M& m) {
  static const pb::Reflection* const r = M::GetReflection();
  return r->GetUnknownFields(m).empty();
}

bool IsClean(const pb::Timestamp& t) { return NoUnknownFields(t); }

bool IsClean(const v1::Claim& c) {
  return NoUnknownFields(c) && v1::PaymentStream_IsValid(c.stream()) &&
         v1::ClaimStatus_IsValid(c.status()) &&
         (!c.has_period_start() || IsClean(c.period_start())) &&
         (!c.has_period_end() || IsClean(c.period_end()));
}

bool IsClean(const v1::Referral& r) {
  return NoUnknownFields(r) && v1::ReferralPriority_IsValid(r.priority());
}

bool IsClean(const v1::PatientContact& c) {
  return NoUnknownFields(c) && v1::ContactMode_IsValid(c.mode()) &&
         v1::Attendance_IsValid(c.attendance());
}

bool IsClean(const v1::MonitoringVisit& v) {
  return NoUnknownFields(v) && v1::MonitoringVisitType_IsValid(v.type()) &&
         v1::MonitoringOutcome_IsValid(v.outcome()) &&
         (!v.has_notice_issued_at() || IsClean(v.notice_issued_at())) &&
         (!v.has_remedy_due_at() || IsClean(v.remedy_due_at()));
}

bool IsClean(const v1::PracticeUpdate& u) {
  return NoUnknownFields(u) && v1::ContractType_IsValid(u.contract_type()) &&
         v1::Rurality_IsValid(u.rurality());
}

bool IsClean(const v1::RuleSetPublished& r) { return NoUnknownFields(r); }

bool IsClean(const v1::Flag& f) {
  if (!NoUnknownFields(f) || !v1::Severity_IsValid(f.severity())) return false;
  if (f.has_window_start() && !IsClean(f.window_start())) return false;
  if (f.has_window_end() && !IsClean(f.window_end())) return false;
  if (f.has_baseline() && !NoUnknownFields(f.baseline())) return false;
  for (const v1::Evidence& e : f.evidence()) {
    if (!NoUnknownFields(e)) return false;
  }
  return true;
}

bool IsClean(const v1::FlagDecision& d) {
  return NoUnknownFields(d) && v1::DecisionOutcome_IsValid(d.outcome());
}

bool IsClean(const v1::PaymentInstruction& i) {
  return NoUnknownFields(i) && v1::PaymentAction_IsValid(i.action());
}

bool WholeMessageIsClean(const v1::Envelope& e) {
  if (!NoUnknownFields(e) || !v1::EventKind_IsValid(e.kind())) return false;
  if (e.has_occurred_at() && !IsClean(e.occurred_at())) return false;
  if (e.has_recorded_at() && !IsClean(e.recorded_at())) return false;
  switch (e.payload_case()) {
    case v1::Envelope::kClaim:
      return IsClean(e.claim());
    case v1::Envelope::kReferral:
      return IsClean(e.referral());
    case v1::Envelope::kPatientContact:
      return IsClean(e.patient_contact());
    case v1::Envelope::kMonitoringVisit:
      return IsClean(e.monitoring_visit());
    case v1::Envelope::kPracticeUpdate:
      return IsClean(e.practice_update());
    case v1::Envelope::kRuleSet:
      return IsClean(e.rule_set());
    case v1::Envelope::kFlag:
      return IsClean(e.flag());
    case v1::Envelope::kFlagDecision:
      return IsClean(e.flag_decision());
    case v1::Envelope::kPaymentInstruction:
      return IsClean(e.payment_instruction());
    case v1::Envelope::PAYLOAD_NOT_SET:
      return true;
  }
  return false;  // a payload this code does not know: let CheckUnknown decide
}

// CheckUnknown(envelope, ""), computed fast when the envelope is clean.
Result CheckWholeMessage(const v1::Envelope& env) {
  if (internal::FastCheckCoversSchema() && WholeMessageIsClean(env)) return std::nullopt;
  return CheckUnknown(env, "");
}

// ---- Topics and kinds. ----

struct TopicKinds {
  std::string_view topic;
  std::array<v1::EventKind, 2> kinds;  // second is UNSPECIFIED when the topic carries one kind
};

constexpr std::array<TopicKinds, 8> kTopicKinds = {{
    {bus::kClaimsTopic, {v1::EVENT_KIND_CLAIM, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kReferralsTopic, {v1::EVENT_KIND_REFERRAL, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kVisitsTopic, {v1::EVENT_KIND_PATIENT_CONTACT, v1::EVENT_KIND_MONITORING_VISIT}},
    {bus::kPracticesTopic, {v1::EVENT_KIND_PRACTICE_UPDATE, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kRuleSetsTopic, {v1::EVENT_KIND_RULE_SET, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kFlagsTopic, {v1::EVENT_KIND_FLAG, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kDecisionsTopic, {v1::EVENT_KIND_FLAG_DECISION, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kPaymentInstructionsTopic,
     {v1::EVENT_KIND_PAYMENT_INSTRUCTION, v1::EVENT_KIND_UNSPECIFIED}},
}};

const TopicKinds* FindTopic(std::string_view topic) {
  for (const TopicKinds& t : kTopicKinds) {
    if (t.topic == topic) return &t;
  }
  return nullptr;
}

v1::Envelope::PayloadCase PayloadFor(v1::EventKind kind) {
  switch (kind) {
    case v1::EVENT_KIND_CLAIM:
      return v1::Envelope::kClaim;
    case v1::EVENT_KIND_REFERRAL:
      return v1::Envelope::kReferral;
    case v1::EVENT_KIND_PATIENT_CONTACT:
      return v1::Envelope::kPatientContact;
    case v1::EVENT_KIND_MONITORING_VISIT:
      return v1::Envelope::kMonitoringVisit;
    case v1::EVENT_KIND_PRACTICE_UPDATE:
      return v1::Envelope::kPracticeUpdate;
    case v1::EVENT_KIND_RULE_SET:
      return v1::Envelope::kRuleSet;
    case v1::EVENT_KIND_FLAG:
      return v1::Envelope::kFlag;
    case v1::EVENT_KIND_FLAG_DECISION:
      return v1::Envelope::kFlagDecision;
    case v1::EVENT_KIND_PAYMENT_INSTRUCTION:
      return v1::Envelope::kPaymentInstruction;
    default:
      return v1::Envelope::PAYLOAD_NOT_SET;
  }
}

std::string PayloadName(const v1::Envelope& env) {
  if (env.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) return "none";
  const pb::FieldDescriptor* fd =
      v1::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(env.payload_case()));
  return fd ? fd->name() : "unknown";
}

// ---- Payloads. ----

Result CheckClaim(const v1::Claim& c, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckId("claim.claim_id", c.claim_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("claim.stream", c.stream(), v1::PaymentStream_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckId("claim.service_code", c.service_code(), false, kMaxCodeLength));
  // Achievement is claimed per indicator; aspiration is a monthly payment on account of the
  // year's expected points and carries no indicator.
  CODEC_RETURN_IF_REJECTED(CheckId("claim.indicator_code", c.indicator_code(),
                                   c.stream() == v1::PAYMENT_STREAM_QOF_ACHIEVEMENT,
                                   kMaxCodeLength));
  Micros start = 0, end = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("claim.period_start", c.has_period_start(),
                                          c.period_start(), true, Future::kAllowed, p, now,
                                          &start));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("claim.period_end", c.has_period_end(), c.period_end(),
                                          true, Future::kAllowed, p, now, &end));
  CODEC_RETURN_IF_REJECTED(CheckOrder("claim.period_start", start, "claim.period_end", end));
  CODEC_RETURN_IF_REJECTED(CheckRange("claim.quantity", c.quantity(), 0, p.max_quantity));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.unit_price_pence", c.unit_price_pence(), 0, p.max_amount_pence));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.amount_pence", c.amount_pence(), 0, p.max_amount_pence));
  if (c.quantity() != 0 && c.unit_price_pence() != 0) {
    // Both are bounded above, so the product fits in 64 bits (<= 1e7 * 1e9 by default; the
    // builtin catches a policy that raises the caps further).
    int64_t expected;
    if (__builtin_mul_overflow(c.quantity(), c.unit_price_pence(), &expected) ||
        std::llabs(c.amount_pence() - expected) > c.quantity()) {
      return Reject(reason::kAmountMismatch,
                    "claim.amount_pence " + std::to_string(c.amount_pence()) +
                        " differs from quantity " + std::to_string(c.quantity()) +
                        " x unit_price_pence " + std::to_string(c.unit_price_pence()) +
                        " by more than 1p per unit");
    }
  }
  CODEC_RETURN_IF_REJECTED(CheckDoubleRange("claim.points_claimed", c.points_claimed(), 0.0, 1e6));
  CODEC_RETURN_IF_REJECTED(
      CheckDoubleRange("claim.points_maximum", c.points_maximum(), 0.0, 1e6,
                       /*lo_exclusive=*/c.stream() == v1::PAYMENT_STREAM_QOF_ACHIEVEMENT));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("claim.eligible_cohort", c.eligible_cohort(), 0, p.max_quantity));
  CODEC_RETURN_IF_REJECTED(CheckId("claim.patient_ref", c.patient_ref(), false));
  return std::nullopt;
}

Result CheckReferral(const v1::Referral& r) {
  CODEC_RETURN_IF_REJECTED(CheckRequired("referral.ubrn", r.ubrn()));
  bool ubrn_ok = r.ubrn().size() == 12;
  for (char c : r.ubrn()) ubrn_ok = ubrn_ok && IsDigit(c);
  if (!ubrn_ok) {
    return Reject(reason::kInvalidUbrn,
                  "referral.ubrn " + Quote(r.ubrn()) + " is not an e-RS UBRN (12 digits)");
  }
  CODEC_RETURN_IF_REJECTED(
      CheckText("referral.specialty_code", r.specialty_code(), false, kMaxNameLength));
  const std::string& tfc = r.treatment_function_code();
  if (!tfc.empty() &&
      (tfc.size() != 3 || !IsDigit(tfc[0]) || !IsDigit(tfc[1]) || !IsDigit(tfc[2]))) {
    return Reject(reason::kInvalidTreatmentFunctionCode,
                  "referral.treatment_function_code " + Quote(tfc) +
                      " is not a treatment function code (3 digits, e.g. 320)");
  }
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("referral.priority", r.priority(), v1::ReferralPriority_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("referral.provider_code", r.provider_code()));
  CODEC_RETURN_IF_REJECTED(CheckId("referral.patient_ref", r.patient_ref(), false));
  return std::nullopt;
}

Result CheckPatientContact(const v1::PatientContact& c, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckId("patient_contact.contact_id", c.contact_id(), false));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("patient_contact.mode", c.mode(), v1::ContactMode_descriptor()));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("patient_contact.attendance", c.attendance(), v1::Attendance_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckRange("patient_contact.count", c.count(), 0, p.max_contact_count));
  CODEC_RETURN_IF_REJECTED(CheckId("patient_contact.patient_ref", c.patient_ref(), false));
  return std::nullopt;
}

Result CheckMonitoringVisit(const v1::MonitoringVisit& v, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckId("monitoring_visit.visit_id", v.visit_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("monitoring_visit.type", v.type(), v1::MonitoringVisitType_descriptor()));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("monitoring_visit.outcome", v.outcome(), v1::MonitoringOutcome_descriptor()));
  bool notice = v.outcome() == v1::MONITORING_OUTCOME_REMEDIAL_NOTICE ||
                v.outcome() == v1::MONITORING_OUTCOME_BREACH_NOTICE;
  Micros issued = 0, due = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("monitoring_visit.notice_issued_at",
                                          v.has_notice_issued_at(), v.notice_issued_at(), notice,
                                          Future::kAllowed, p, now, &issued));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("monitoring_visit.remedy_due_at", v.has_remedy_due_at(),
                                          v.remedy_due_at(), notice, Future::kAllowed, p, now,
                                          &due));
  if (v.has_notice_issued_at() && v.has_remedy_due_at()) {
    CODEC_RETURN_IF_REJECTED(CheckOrder("monitoring_visit.notice_issued_at", issued,
                                        "monitoring_visit.remedy_due_at", due));
  }
  return std::nullopt;
}

Result CheckPracticeUpdate(const v1::PracticeUpdate& u, std::string_view practice_code,
                           const Policy& p) {
  CODEC_RETURN_IF_REJECTED(
      CheckText("practice_update.practice_name", u.practice_name(), false, kMaxNameLength));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("practice_update.list_size", u.list_size(), 0, p.max_list_size));
  CODEC_RETURN_IF_REJECTED(CheckDoubleRange("practice_update.weighted_list_size",
                                            u.weighted_list_size(), 0.0, p.max_weighted_list_size));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.region_code", u.region_code()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.icb_code", u.icb_code()));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("practice_update.sub_icb_code", u.sub_icb_code()));
  CODEC_RETURN_IF_REJECTED(
      CheckOds("practice_update.merged_from_practice_code", u.merged_from_practice_code(), false));
  if (!u.merged_from_practice_code().empty() && u.merged_from_practice_code() == practice_code) {
    return Reject(reason::kMergedFromSelf,
                  "practice_update.merged_from_practice_code " +
                      Quote(u.merged_from_practice_code()) +
                      " is the practice itself; a practice cannot merge into itself");
  }
  return std::nullopt;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Result CheckRuleSet(const v1::RuleSetPublished& r, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckText("rule_set.name", r.name(), true, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckText("rule_set.version", r.version(), false, kMaxIdLength));
  CODEC_RETURN_IF_REJECTED(CheckRequired("rule_set.yaml_content", r.yaml_content()));
  CODEC_RETURN_IF_REJECTED(
      CheckLength("rule_set.yaml_content", r.yaml_content(), p.max_rule_set_bytes));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("rule_set.sha256_hex", r.sha256_hex(), true));
  std::string actual = Sha256Hex(r.yaml_content());
  if (actual != r.sha256_hex()) {
    return Reject(reason::kRuleSetHashMismatch,
                  "rule_set.sha256_hex " + Quote(r.sha256_hex(), 64) +
                      " is not the SHA-256 of yaml_content, which is '" + actual + "'");
  }
  return std::nullopt;
}

Result CheckFlag(const v1::Flag& f, const Policy& p, Micros now) {
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag.flag_id", f.flag_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.rule_id", f.rule_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag.rule_set_hash", f.rule_set_hash(), false));
  CODEC_RETURN_IF_REJECTED(CheckOrgCode("flag.icb_code", f.icb_code()));
  CODEC_RETURN_IF_REJECTED(CheckEnumSet("flag.severity", f.severity(), v1::Severity_descriptor()));
  Micros start = 0, end = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("flag.window_start", f.has_window_start(),
                                          f.window_start(), false, Future::kAllowed, p, now,
                                          &start));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("flag.window_end", f.has_window_end(), f.window_end(),
                                          false, Future::kAllowed, p, now, &end));
  if (f.has_window_start() && f.has_window_end()) {
    CODEC_RETURN_IF_REJECTED(CheckOrder("flag.window_start", start, "flag.window_end", end));
  }
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.observed", f.observed()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.expected", f.expected()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.lower_limit", f.lower_limit()));
  CODEC_RETURN_IF_REJECTED(CheckFinite("flag.upper_limit", f.upper_limit()));
  if (f.has_baseline()) {
    const v1::PeerBaseline& b = f.baseline();
    CODEC_RETURN_IF_REJECTED(CheckText("flag.baseline.group", b.group(), false, kMaxNameLength));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.median", b.median()));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.mad", b.mad()));
    CODEC_RETURN_IF_REJECTED(CheckFinite("flag.baseline.rate", b.rate()));
  }
  if (static_cast<size_t>(f.evidence_size()) > p.max_flag_evidence) {
    return Reject(reason::kValueOutOfRange,
                  "flag.evidence has " + std::to_string(f.evidence_size()) +
                      " entries, over the limit of " + std::to_string(p.max_flag_evidence));
  }
  for (int i = 0; i < f.evidence_size(); ++i) {
    CODEC_RETURN_IF_REJECTED(CheckId("flag.evidence[" + std::to_string(i) + "].event_id",
                                     f.evidence(i).event_id(), false));
  }
  CODEC_RETURN_IF_REJECTED(CheckText("flag.summary", f.summary(), false, kMaxTextLength));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.claim_id", f.claim_id(), false));
  CODEC_RETURN_IF_REJECTED(CheckId("flag.rule_kind", f.rule_kind(), false));
  return std::nullopt;
}

Result CheckFlagDecision(const v1::FlagDecision& d) {
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("flag_decision.flag_id", d.flag_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("flag_decision.outcome", d.outcome(), v1::DecisionOutcome_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckText("flag_decision.reason", d.reason(), true, kMaxTextLength));
  CODEC_RETURN_IF_REJECTED(
      CheckText("flag_decision.decided_by", d.decided_by(), false, kMaxNameLength));
  return std::nullopt;
}

Result CheckPaymentInstruction(const v1::PaymentInstruction& i, const Policy& p) {
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.instruction_id", i.instruction_id(), true));
  CODEC_RETURN_IF_REJECTED(CheckId("payment_instruction.claim_id", i.claim_id(), true));
  CODEC_RETURN_IF_REJECTED(
      CheckEnumSet("payment_instruction.action", i.action(), v1::PaymentAction_descriptor()));
  CODEC_RETURN_IF_REJECTED(CheckHexDigest("payment_instruction.flag_id", i.flag_id(), false));
  CODEC_RETURN_IF_REJECTED(
      CheckRange("payment_instruction.amount_pence", i.amount_pence(), 0, p.max_amount_pence));
  CODEC_RETURN_IF_REJECTED(
      CheckText("payment_instruction.reason", i.reason(), false, kMaxTextLength));
  return std::nullopt;
}

// ---- Duplicate keys in JSON. ----

// Finds a field given twice in one JSON object ({"event_id":"a","eventId":"b"}). The protobuf
// parser keeps the last value silently, while other JSON readers may keep the first, so the
// stored bytes would not mean one thing; such input is rejected. REQUIRES: `json` has already
// been accepted by the protobuf JSON parser (so it is well-formed and nested at most 100 deep).
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(std::string_view json) : s_(json) {}

  // Returns the path of the first duplicated field, or "" if there is none.
  std::string Find(const pb::Descriptor* root) {
    Value(root, nullptr, 0);
    return dup_;
  }

 private:
  static constexpr int kMaxDepth = 200;

  // Where a value is, as a chain up to the root (nullptr): a field of an object (`name`, the
  // field's proto name or the raw key) or an element of an array. The path string is built only
  // for a duplicate: fields joined by ".", "[]" appended for an array element.
  struct Path {
    const Path* parent;
    std::string_view name;  // empty for an array element
    bool element;
  };

  static std::string PathString(const Path* p) {
    if (p == nullptr) return "";
    std::string prefix = PathString(p->parent);
    if (p->element) return prefix + "[]";
    return prefix.empty() ? std::string(p->name) : prefix + "." + std::string(p->name);
  }

  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  // A string token; simple escapes and \u00XX are decoded, other \u escapes kept as written.
  // Without escapes (the usual case) the result is a view of the input; otherwise it is decoded
  // into storage owned by the finder (kept until the end: `seen` may refer to it).
  std::string_view String() {
    ++i_;  // opening quote
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\') ++i_;
    if (i_ >= s_.size() || s_[i_] == '"') {
      std::string_view out = s_.substr(start, i_ - start);
      ++i_;  // closing quote
      return out;
    }
    std::string& out = decoded_.emplace_back(s_.substr(start, i_ - start));
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c != '\\' || i_ >= s_.size()) {
        out += c;
        continue;
      }
      char e = s_[i_++];
      if (e == 'u' && i_ + 4 <= s_.size()) {
        std::string_view hex = s_.substr(i_, 4);
        if (hex[0] == '0' && hex[1] == '0') {
          auto nibble = [](char h) {
            return IsDigit(h)                             ? h - '0'
                   : (Lower(h) >= 'a' && Lower(h) <= 'f') ? Lower(h) - 'a' + 10
                                                          : 0;
          };
          out += static_cast<char>(nibble(hex[2]) * 16 + nibble(hex[3]));
        } else {
          out += "\\u";
          out += hex;
        }
        i_ += 4;
      } else {
        out += e == 'n'   ? '\n'
               : e == 't' ? '\t'
               : e == 'r' ? '\r'
               : e == 'b' ? '\b'
               : e == 'f' ? '\f'
                          : e;
      }
    }
    ++i_;  // closing quote
    return out;
  }

  static const pb::FieldDescriptor* Field(const pb::Descriptor* d, std::string_view key) {
    if (d == nullptr) return nullptr;
    for (int f = 0; f < d->field_count(); ++f) {
      const pb::FieldDescriptor* fd = d->field(f);
      if (fd->name() == key || fd->json_name() == key) return fd;
    }
    return nullptr;
  }

  static const pb::Descriptor* MessageOf(const pb::FieldDescriptor* fd) {
    return fd != nullptr && fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE
               ? fd->message_type()
               : nullptr;
  }

  // Skips one value; `d` is the message type an object here would be (nullptr if unknown).
  void Value(const pb::Descriptor* d, const Path* path, int depth) {
    Ws();
    if (i_ >= s_.size() || !dup_.empty() || depth > kMaxDepth) return;
    char c = s_[i_];
    if (c == '{') {
      Object(d, path, depth + 1);
    } else if (c == '[') {
      ++i_;
      Ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return;
      }
      const Path element{path, {}, true};
      while (i_ < s_.size() && dup_.empty()) {
        Value(d, &element, depth + 1);
        Ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        ++i_;  // ']'
        break;
      }
    } else if (c == '"') {
      String();
    } else {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    }
  }

  void Object(const pb::Descriptor* d, const Path* path, int depth) {
    ++i_;  // '{'
    // Field names (or raw keys outside the schema) seen in this object; views of descriptor
    // names, of the input or of decoded_.
    std::vector<std::string_view> seen;
    while (i_ < s_.size() && dup_.empty()) {
      Ws();
      if (i_ >= s_.size()) return;
      if (s_[i_] == '}') {
        ++i_;
        return;
      }
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] != '"') return;  // not reachable for JSON protobuf accepted
      std::string_view key = String();
      const pb::FieldDescriptor* fd = Field(d, key);
      std::string_view identity = fd != nullptr ? std::string_view(fd->name()) : key;
      const Path field_path{path, identity, false};
      if (std::find(seen.begin(), seen.end(), identity) != seen.end()) {
        dup_ = PathString(&field_path);
        return;
      }
      if (seen.empty()) seen.reserve(d != nullptr ? d->field_count() : 8);
      seen.push_back(identity);
      Ws();
      if (i_ < s_.size() && s_[i_] == ':') ++i_;
      Value(MessageOf(fd), &field_path, depth);
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string dup_;
  std::deque<std::string> decoded_;  // keys with escapes, decoded (stable addresses)
};

// ---- JSON to envelope. ----

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
    for (const pb::Descriptor* d : ReachableMessageTypes()) {
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

namespace {

std::string KindName(v1::EventKind k) {
  const pb::EnumValueDescriptor* d = v1::EventKind_descriptor()->FindValueByNumber(k);
  return d ? d->name() : std::to_string(static_cast<int>(k));
}

}  // namespace

namespace internal {

bool FastCheckCoversSchema() {
  static const bool covers = ComputeFastCheckCoversSchema();
  return covers;
}

}  // namespace internal

std::variant<ContentType, Rejection> ParseContentType(std::optional<std::string_view> header) {
  if (!header.has_value()) return ContentType::kProtobuf;
  std::string_view h = *header;
  size_t semi = h.find(';');
  std::string media = ToLower(Trim(h.substr(0, semi)));
  std::string_view params = semi == std::string_view::npos ? std::string_view() : h.substr(semi);
  auto unsupported = [&](std::string why) {
    return Reject(reason::kUnsupportedContentType, "content-type " + Quote(h) + " " + why);
  };
  if (media == "application/x-protobuf" || media == "application/protobuf" ||
      media == "application/vnd.google.protobuf") {
    return ContentType::kProtobuf;
  }
  if (media != "application/json") {
    return unsupported(
        "is not supported; use application/x-protobuf (or no header) for binary protobuf, or "
        "application/json");
  }
  // Parameters: `; name=value` pairs. Only charset is interpreted; it must be UTF-8.
  while (!params.empty()) {
    params.remove_prefix(1);  // the ';'
    size_t next = params.find(';');
    std::string_view param = Trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next);
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return unsupported("has a malformed parameter");
    std::string name = ToLower(Trim(param.substr(0, eq)));
    std::string_view value = Trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name == "charset" && ToLower(value) != "utf-8" && ToLower(value) != "utf8") {
      return unsupported("has a charset other than utf-8; the JSON mapping is UTF-8 only");
    }
  }
  return ContentType::kJson;
}

std::variant<Decoded, Rejection> Decode(std::string_view topic, std::string_view value,
                                        std::optional<std::string_view> content_type_header,
                                        const Policy& policy, Micros now) {
  if (value.size() > policy.max_message_bytes || value.size() > static_cast<size_t>(INT_MAX)) {
    return Reject(reason::kMessageTooLarge, "message is " + std::to_string(value.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(policy.max_message_bytes));
  }
  std::variant<ContentType, Rejection> ct = ParseContentType(content_type_header);
  if (auto* r = std::get_if<Rejection>(&ct)) return std::move(*r);
  Decoded out{v1::Envelope(), std::get<ContentType>(ct)};
  if (value.empty()) return Reject(reason::kEmptyMessage, "message value is empty");

  if (out.content_type == ContentType::kProtobuf) {
    bool ok;
    {
      // The parser logs invalid UTF-8 at ERROR; the rejection below reports it instead.
      pb::LogSilencer silence;
      ok = out.envelope.ParseFromArray(value.data(), static_cast<int>(value.size()));
    }
    if (!ok) {
      return Reject(reason::kMalformedProtobuf,
                    "message value (" + std::to_string(value.size()) +
                        " bytes) is not a binary protobuf probity.v1.Envelope (bad wire format "
                        "or invalid UTF-8 in a string field)");
    }
  } else {
    try {
      pb::util::JsonParseOptions strict;  // ignore_unknown_fields = false
      pb::util::Status st = internal::JsonToEnvelope(value, &out.envelope, strict);
      if (!st.ok()) {
        std::string detail = Sanitize(std::string(st.message()));
        // The parser reports unknown fields and unknown enum names in its message only; tell
        // them apart from malformed JSON by whether a lenient parse succeeds.
        v1::Envelope scratch;
        pb::util::JsonParseOptions lenient;
        lenient.ignore_unknown_fields = true;
        bool lenient_ok = internal::JsonToEnvelope(value, &scratch, lenient).ok();
        // A lenient parse relaxes exactly two things: unknown field names ("Cannot find
        // field") and unknown enum value names.
        if (lenient_ok && detail.find("Cannot find field") != std::string::npos) {
          return Reject(reason::kUnknownField,
                        "JSON has a field schema version 1 does not define: " + detail);
        }
        if (lenient_ok) {
          return Reject(reason::kUnknownEnumValue,
                        "JSON has an enum value schema version 1 does not define: " + detail);
        }
        return Reject(
            reason::kMalformedJson,
            "message value is not a probity.v1.Envelope in the protobuf JSON mapping: " + detail);
      }
      std::string dup = DuplicateKeyFinder(value).Find(v1::Envelope::descriptor());
      if (!dup.empty()) {
        return Reject(reason::kMalformedJson,
                      "JSON gives field " + Quote(dup) +
                          " more than once in one object; each field may appear once");
      }
    } catch (...) {
      return Reject(reason::kMalformedJson, "message value could not be parsed as JSON");
    }
  }
  if (out.envelope.ByteSizeLong() == 0) {
    return Reject(reason::kEmptyMessage, "message decodes to an empty envelope (no fields set)");
  }
  if (Result r = Validate(topic, out.envelope, policy, now)) return std::move(*r);
  return out;
}

std::optional<Rejection> Validate(std::string_view topic, const v1::Envelope& env,
                                  const Policy& policy, Micros now) {
  const TopicKinds* topic_kinds = FindTopic(topic);
  if (topic_kinds == nullptr) {
    return Reject(reason::kUnknownTopic,
                  "topic " + Quote(topic) + " is not an input topic of ingest");
  }
  CODEC_RETURN_IF_REJECTED(CheckWholeMessage(env));
  CODEC_RETURN_IF_REJECTED(CheckId("event_id", env.event_id(), true));
  if (env.schema_version() != 1) {
    return Reject(reason::kUnsupportedSchemaVersion,
                  "schema_version " + std::to_string(env.schema_version()) +
                      " is not supported (this ingest reads version 1)");
  }
  CODEC_RETURN_IF_REJECTED(CheckEnumSet("kind", env.kind(), v1::EventKind_descriptor()));
  if (env.payload_case() != PayloadFor(env.kind())) {
    return Reject(
        reason::kKindPayloadMismatch,
        "kind " + KindName(env.kind()) + " does not match the payload (" + PayloadName(env) + ")");
  }
  if (env.kind() != topic_kinds->kinds[0] && env.kind() != topic_kinds->kinds[1]) {
    std::string expected = KindName(topic_kinds->kinds[0]);
    if (topic_kinds->kinds[1] != v1::EVENT_KIND_UNSPECIFIED) {
      expected += " or " + KindName(topic_kinds->kinds[1]);
    }
    return Reject(reason::kWrongTopic, "kind " + KindName(env.kind()) + " does not belong on " +
                                           Quote(topic) + ", which carries " + expected);
  }
  CODEC_RETURN_IF_REJECTED(
      CheckOds("practice_code", env.practice_code(), env.kind() != v1::EVENT_KIND_RULE_SET));
  CODEC_RETURN_IF_REJECTED(CheckId("source_system", env.source_system(), false));
  CODEC_RETURN_IF_REJECTED(CheckId("supersedes_event_id", env.supersedes_event_id(), false));
  if (!env.supersedes_event_id().empty() && env.supersedes_event_id() == env.event_id()) {
    return Reject(
        reason::kSupersedesItself,
        "supersedes_event_id " + Quote(env.supersedes_event_id()) + " is the event's own event_id");
  }
  Micros occurred = 0, recorded = 0;
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("occurred_at", env.has_occurred_at(), env.occurred_at(),
                                          true, Future::kBounded, policy, now, &occurred));
  CODEC_RETURN_IF_REJECTED(CheckTimestamp("recorded_at", env.has_recorded_at(), env.recorded_at(),
                                          false, Future::kBounded, policy, now, &recorded));
  // Both are within 0001..9999 in micros, so the difference cannot overflow.
  if (env.has_recorded_at() && occurred - recorded > policy.max_future_skew) {
    return Reject(reason::kRecordedBeforeOccurred,
                  "recorded_at " + FormatMicros(recorded) + " is more than " +
                      std::to_string(policy.max_future_skew / kMicrosPerSecond) +
                      " s before occurred_at " + FormatMicros(occurred));
  }
  switch (env.payload_case()) {
    case v1::Envelope::kClaim:
      return CheckClaim(env.claim(), policy, now);
    case v1::Envelope::kReferral:
      return CheckReferral(env.referral());
    case v1::Envelope::kPatientContact:
      return CheckPatientContact(env.patient_contact(), policy);
    case v1::Envelope::kMonitoringVisit:
      return CheckMonitoringVisit(env.monitoring_visit(), policy, now);
    case v1::Envelope::kPracticeUpdate:
      return CheckPracticeUpdate(env.practice_update(), env.practice_code(), policy);
    case v1::Envelope::kRuleSet:
      return CheckRuleSet(env.rule_set(), policy);
    case v1::Envelope::kFlag:
      return CheckFlag(env.flag(), policy, now);
    case v1::Envelope::kFlagDecision:
      return CheckFlagDecision(env.flag_decision());
    case v1::Envelope::kPaymentInstruction:
      return CheckPaymentInstruction(env.payment_instruction(), policy);
    case v1::Envelope::PAYLOAD_NOT_SET:
      break;  // ruled out by the kind check above
  }
  return std::nullopt;
}

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

std::vector<std::string_view> AllReasonCodes() {
  return std::vector<std::string_view>(reason::kAll.begin(), reason::kAll.end());
}

namespace {
constexpr std::string_view kKindPrefix = "EVENT_KIND_";
}  // namespace

std::string_view ShortKindName(v1::EventKind kind) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out(v1::EventKind_ARRAYSIZE, "unknown");
    for (int k = 1; k < v1::EventKind_ARRAYSIZE; ++k) {
      if (!v1::EventKind_IsValid(k)) continue;
      std::string n = v1::EventKind_Name(static_cast<v1::EventKind>(k)).substr(kKindPrefix.size());
      for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out[k] = std::move(n);
    }
    return out;
  }();
  const auto k = static_cast<size_t>(kind);
  return k < names.size() ? std::string_view(names[k]) : std::string_view("unknown");
}

std::optional<v1::EventKind> ParseKind(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind(kKindPrefix, 0) != 0) upper.insert(0, kKindPrefix);
  v1::EventKind k;
  if (!v1::EventKind_Parse(upper, &k) || k == v1::EVENT_KIND_UNSPECIFIED) return std::nullopt;
  return k;
}

}  // namespace probity::codec
