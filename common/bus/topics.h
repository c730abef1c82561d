// Probity's Kafka topics: names and partition counts, defined once.
#pragma once

#include <array>
#include <string_view>

namespace probity::bus {

struct TopicSpec {
  std::string_view name;
  int partitions;
  bool ingested;  // consumed by ingest and appended to the log
};

// Input topics: what practices and national systems send.
inline constexpr std::string_view kClaimsTopic = "probity.claims.v1";
inline constexpr std::string_view kReferralsTopic = "probity.referrals.v1";
inline constexpr std::string_view kVisitsTopic =
    "probity.visits.v1";  // contacts and monitoring visits
inline constexpr std::string_view kPracticesTopic = "probity.practices.v1";  // register updates
// Facts Probity produces that come back through ingest into the log.
inline constexpr std::string_view kRuleSetsTopic = "probity.rulesets.v1";
inline constexpr std::string_view kFlagsTopic = "probity.flags.v1";
inline constexpr std::string_view kDecisionsTopic = "probity.decisions.v1";
inline constexpr std::string_view kPaymentInstructionsTopic =
    "probity.payment-instructions.v1";  // instructions and the exports that carry them
inline constexpr std::string_view kAccessTopic = "probity.access.v1";      // api reads of data
inline constexpr std::string_view kPoliciesTopic = "probity.policies.v1";  // hold policies
inline constexpr std::string_view kControlTopic = "probity.control.v1";    // end of data
// Outputs of ingest.
inline constexpr std::string_view kLogTopic = "probity.log.v1";
inline constexpr std::string_view kDeadLetterTopic = "probity.deadletter.v1";
inline constexpr std::string_view kCheckpointsTopic = "probity.checkpoints.v1";

inline constexpr std::array<TopicSpec, 14> kTopics = {{
    {kClaimsTopic, 4, true},
    {kReferralsTopic, 4, true},
    {kVisitsTopic, 4, true},
    {kPracticesTopic, 1, true},
    {kRuleSetsTopic, 1, true},
    {kFlagsTopic, 1, true},
    {kDecisionsTopic, 1, true},
    {kPaymentInstructionsTopic, 1, true},
    {kAccessTopic, 1, true},
    {kPoliciesTopic, 1, true},
    {kControlTopic, 1, true},
    // The log topic has one partition: it carries entries in log order.
    {kLogTopic, 1, false},
    {kDeadLetterTopic, 1, false},
    {kCheckpointsTopic, 1, false},
}};

}  // namespace probity::bus
