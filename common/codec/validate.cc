// Validate(): the envelope's own rules (docs/events.md, "Envelope"), then the payload's
// (validate_payloads.h).
#include <string>

#include "common/codec/codec.h"
#include "common/codec/escape.h"
#include "common/codec/field_checks.h"
#include "common/codec/hygiene.h"
#include "common/codec/kinds.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"
#include "common/time/civil.h"

namespace probity::codec {

namespace v1 = ::probity::v1;
using internal::CheckAccessRecord;
using internal::CheckBaseline;
using internal::CheckClaim;
using internal::CheckEndOfData;
using internal::CheckEnumSet;
using internal::CheckFlag;
using internal::CheckFlagDecision;
using internal::CheckHoldPolicy;
using internal::CheckId;
using internal::CheckMonitoringVisit;
using internal::CheckOds;
using internal::CheckPatientContact;
using internal::CheckPaymentExport;
using internal::CheckPaymentInstruction;
using internal::CheckPracticeUpdate;
using internal::CheckReferral;
using internal::CheckRuleSet;
using internal::CheckTimestamp;
using internal::CheckWholeMessage;
using internal::FindTopic;
using internal::Future;
using internal::KindName;
using internal::kMicrosPerSecond;
using internal::PayloadFor;
using internal::PayloadName;
using internal::Quote;
using internal::Reject;
using internal::Result;
using internal::TopicKinds;

namespace {

// Events about the whole log rather than one practice carry no practice code (docs/events.md).
bool PracticeCodeRequired(v1::EventKind kind) {
  switch (kind) {
    case v1::EVENT_KIND_RULE_SET:
    case v1::EVENT_KIND_HOLD_POLICY:
    case v1::EVENT_KIND_PAYMENT_EXPORT:
    case v1::EVENT_KIND_END_OF_DATA:
    case v1::EVENT_KIND_BASELINE:
    case v1::EVENT_KIND_ACCESS_RECORD:
      return false;
    default:
      return true;
  }
}

}  // namespace

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
      CheckOds("practice_code", env.practice_code(), PracticeCodeRequired(env.kind())));
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
                  "recorded_at " + civil::FormatRfc3339(recorded) + " is more than " +
                      std::to_string(policy.max_future_skew / kMicrosPerSecond) +
                      " s before occurred_at " + civil::FormatRfc3339(occurred));
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
    case v1::Envelope::kAccessRecord:
      return CheckAccessRecord(env.access_record());
    case v1::Envelope::kHoldPolicy:
      return CheckHoldPolicy(env.hold_policy(), policy);
    case v1::Envelope::kPaymentExport:
      return CheckPaymentExport(env.payment_export());
    case v1::Envelope::kEndOfData:
      return CheckEndOfData(env.end_of_data(), policy, now);
    case v1::Envelope::kBaseline:
      return CheckBaseline(env.baseline(), policy, now);
    case v1::Envelope::PAYLOAD_NOT_SET:
      break;  // ruled out by the kind check above
  }
  return std::nullopt;
}

}  // namespace probity::codec
