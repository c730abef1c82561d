#include "common/codec/kinds.h"

#include <google/protobuf/descriptor.h>

#include <cctype>
#include <optional>
#include <vector>

#include "common/bus/topics.h"
#include "common/codec/codec.h"

namespace probity::codec {
namespace internal {
namespace {

namespace pb = ::google::protobuf;

constexpr std::array<TopicKinds, 11> kTopicKinds = {{
    {bus::kClaimsTopic, {v1::EVENT_KIND_CLAIM, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kReferralsTopic, {v1::EVENT_KIND_REFERRAL, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kVisitsTopic, {v1::EVENT_KIND_PATIENT_CONTACT, v1::EVENT_KIND_MONITORING_VISIT}},
    {bus::kPracticesTopic, {v1::EVENT_KIND_PRACTICE_UPDATE, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kRuleSetsTopic, {v1::EVENT_KIND_RULE_SET, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kFlagsTopic, {v1::EVENT_KIND_FLAG, v1::EVENT_KIND_BASELINE}},
    {bus::kDecisionsTopic, {v1::EVENT_KIND_FLAG_DECISION, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kPaymentInstructionsTopic,
     {v1::EVENT_KIND_PAYMENT_INSTRUCTION, v1::EVENT_KIND_PAYMENT_EXPORT}},
    {bus::kAccessTopic, {v1::EVENT_KIND_ACCESS_RECORD, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kPoliciesTopic, {v1::EVENT_KIND_HOLD_POLICY, v1::EVENT_KIND_UNSPECIFIED}},
    {bus::kControlTopic, {v1::EVENT_KIND_END_OF_DATA, v1::EVENT_KIND_UNSPECIFIED}},
}};

}  // namespace

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
    case v1::EVENT_KIND_ACCESS_RECORD:
      return v1::Envelope::kAccessRecord;
    case v1::EVENT_KIND_HOLD_POLICY:
      return v1::Envelope::kHoldPolicy;
    case v1::EVENT_KIND_PAYMENT_EXPORT:
      return v1::Envelope::kPaymentExport;
    case v1::EVENT_KIND_END_OF_DATA:
      return v1::Envelope::kEndOfData;
    case v1::EVENT_KIND_BASELINE:
      return v1::Envelope::kBaseline;
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

std::string KindName(v1::EventKind k) {
  const pb::EnumValueDescriptor* d = v1::EventKind_descriptor()->FindValueByNumber(k);
  return d ? d->name() : std::to_string(static_cast<int>(k));
}

}  // namespace internal

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
