#include "common/codec/hygiene.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>

#include "common/codec/codec_internal.h"
#include "common/codec/reason_codes.h"

namespace probity::codec::internal {
namespace {

namespace pb = ::google::protobuf;

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
    "probity.v1.Envelope.access_record",
    "probity.v1.Envelope.hold_policy",
    "probity.v1.Envelope.payment_export",
    "probity.v1.Envelope.end_of_data",
    "probity.v1.Envelope.baseline",
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
    "probity.v1.PaymentInstruction.stream",
    "probity.v1.EndOfData.data_complete_until",
    "probity.v1.Baseline.window_start",
    "probity.v1.Baseline.window_end",
    "probity.v1.Baseline.values",
};

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
  return NoUnknownFields(i) && v1::PaymentAction_IsValid(i.action()) &&
         v1::PaymentStream_IsValid(i.stream());
}

bool IsClean(const v1::Baseline& b) {
  if (!NoUnknownFields(b)) return false;
  if (b.has_window_start() && !IsClean(b.window_start())) return false;
  if (b.has_window_end() && !IsClean(b.window_end())) return false;
  for (const v1::PeerValue& v : b.values()) {
    if (!NoUnknownFields(v)) return false;
  }
  return true;
}

bool IsClean(const v1::EndOfData& e) {
  return NoUnknownFields(e) && (!e.has_data_complete_until() || IsClean(e.data_complete_until()));
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
    case v1::Envelope::kAccessRecord:
      return NoUnknownFields(e.access_record());
    case v1::Envelope::kHoldPolicy:
      return NoUnknownFields(e.hold_policy());
    case v1::Envelope::kPaymentExport:
      return NoUnknownFields(e.payment_export());
    case v1::Envelope::kEndOfData:
      return IsClean(e.end_of_data());
    case v1::Envelope::kBaseline:
      return IsClean(e.baseline());
    case v1::Envelope::PAYLOAD_NOT_SET:
      return true;
  }
  return false;  // a payload this code does not know: let CheckUnknown decide
}

}  // namespace

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

bool FastCheckCoversSchema() {
  static const bool covers = ComputeFastCheckCoversSchema();
  return covers;
}

// CheckUnknown(envelope, ""), computed fast when the envelope is clean.
Result CheckWholeMessage(const v1::Envelope& env) {
  if (internal::FastCheckCoversSchema() && WholeMessageIsClean(env)) return std::nullopt;
  return CheckUnknown(env, "");
}

}  // namespace probity::codec::internal
