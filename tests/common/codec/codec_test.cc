#include "common/codec/codec.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/bus/topics.h"
#include "common/codec/codec_internal.h"
#include "common/codec/reason_codes.h"
#include "common/crypto/sha256.h"
#include "tests/common/codec/fuzz_input.h"

namespace probity::codec {
namespace {

namespace v1 = ::probity::v1;
using ::google::protobuf::Timestamp;
using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

constexpr Micros kNow = fuzz::kNow;  // 2024-06-01T00:00:00Z
constexpr Micros kHour = 3600LL * 1000000;

Timestamp At(const char* rfc3339) {
  Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t;
}

Timestamp FromMicros(Micros m) { return TimeUtil::MicrosecondsToTimestamp(m); }

using crypto::Sha256Hex;

const std::string kFlagId = Sha256Hex("flag");

v1::Envelope Base(v1::EventKind kind, std::string event_id) {
  v1::Envelope e;
  e.set_event_id(std::move(event_id));
  e.set_kind(kind);
  e.set_schema_version(1);
  e.set_practice_code("A81001");
  *e.mutable_occurred_at() = At("2024-05-01T09:30:00Z");
  *e.mutable_recorded_at() = At("2024-05-01T09:31:00.250Z");
  e.set_source_system("test");
  return e;
}

// A valid envelope of every kind, with the topic it belongs on.
struct Example {
  std::string name;
  std::string_view topic;
  v1::Envelope envelope;
};

v1::Envelope ValidClaim() {
  v1::Envelope e = Base(v1::EVENT_KIND_CLAIM, "claim-0001");
  v1::Claim* c = e.mutable_claim();
  c->set_claim_id("C-2024-0001");
  c->set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  c->set_service_code("FLU65");
  *c->mutable_period_start() = At("2024-04-01T00:00:00Z");
  *c->mutable_period_end() = At("2024-05-01T00:00:00Z");
  c->set_quantity(120);
  c->set_unit_price_pence(1061);
  c->set_amount_pence(127320);
  c->set_eligible_cohort(900);
  c->set_status(v1::CLAIM_STATUS_SUBMITTED);
  return e;
}

v1::Envelope ValidQofClaim() {
  v1::Envelope e = Base(v1::EVENT_KIND_CLAIM, "claim-qof-0001");
  v1::Claim* c = e.mutable_claim();
  c->set_claim_id("Q-2024-DM012");
  c->set_stream(v1::PAYMENT_STREAM_QOF_ACHIEVEMENT);
  c->set_indicator_code("DM012");
  *c->mutable_period_start() = At("2023-04-01T00:00:00Z");
  *c->mutable_period_end() = At("2024-04-01T00:00:00Z");
  c->set_amount_pence(250000);
  c->set_points_claimed(10.5);
  c->set_points_maximum(12);
  return e;
}

v1::Envelope ValidReferral() {
  v1::Envelope e = Base(v1::EVENT_KIND_REFERRAL, "ref-0001");
  v1::Referral* r = e.mutable_referral();
  r->set_ubrn("000123456789");
  r->set_specialty_code("CARDIOLOGY");
  r->set_treatment_function_code("320");
  r->set_priority(v1::REFERRAL_PRIORITY_TWO_WEEK_WAIT);
  r->set_provider_code("RJ1");
  r->set_patient_ref("p-7f3a");
  return e;
}

v1::Envelope ValidContact() {
  v1::Envelope e = Base(v1::EVENT_KIND_PATIENT_CONTACT, "contact-0001");
  v1::PatientContact* c = e.mutable_patient_contact();
  c->set_contact_id("appt-1");
  c->set_mode(v1::CONTACT_MODE_FACE_TO_FACE);
  c->set_attendance(v1::ATTENDANCE_ATTENDED);
  c->set_count(1);
  return e;
}

v1::Envelope ValidVisit() {
  v1::Envelope e = Base(v1::EVENT_KIND_MONITORING_VISIT, "visit-0001");
  v1::MonitoringVisit* v = e.mutable_monitoring_visit();
  v->set_visit_id("V-1");
  v->set_type(v1::MONITORING_VISIT_TYPE_REMEDIAL_FOLLOW_UP);
  v->set_outcome(v1::MONITORING_OUTCOME_REMEDIAL_NOTICE);
  *v->mutable_notice_issued_at() = At("2024-05-01T00:00:00Z");
  *v->mutable_remedy_due_at() = At("2024-08-01T00:00:00Z");
  return e;
}

v1::Envelope ValidPractice() {
  v1::Envelope e = Base(v1::EVENT_KIND_PRACTICE_UPDATE, "practice-0001");
  v1::PracticeUpdate* p = e.mutable_practice_update();
  p->set_practice_name("The Village Surgery");
  p->set_list_size(8000);
  p->set_weighted_list_size(8512.25);
  p->set_region_code("Y63");
  p->set_icb_code("QHM");
  p->set_sub_icb_code("16C");
  p->set_contract_type(v1::CONTRACT_TYPE_GMS);
  p->set_rurality(v1::RURALITY_URBAN);
  p->set_merged_from_practice_code("A81002");
  return e;
}

v1::Envelope ValidRuleSet() {
  v1::Envelope e = Base(v1::EVENT_KIND_RULE_SET, "ruleset-0001");
  e.clear_practice_code();
  v1::RuleSetPublished* r = e.mutable_rule_set();
  r->set_name("probity-default");
  r->set_version("2024.1");
  r->set_yaml_content("rules: []\n");
  r->set_sha256_hex(Sha256Hex("rules: []\n"));
  return e;
}

v1::Envelope ValidHoldPolicy() {
  v1::Envelope e = Base(v1::EVENT_KIND_HOLD_POLICY, "hold-policy-0001");
  e.clear_practice_code();
  v1::HoldPolicyPublished* h = e.mutable_hold_policy();
  h->set_name("probity-default-holds");
  h->set_version("1");
  h->set_yaml_content("holds: []\n");
  h->set_sha256_hex(Sha256Hex("holds: []\n"));
  return e;
}

v1::Envelope ValidFlag() {
  v1::Envelope e = Base(v1::EVENT_KIND_FLAG, "flag-0001");
  v1::Flag* f = e.mutable_flag();
  f->set_flag_id(kFlagId);
  f->set_rule_id("duplicate_ios");
  f->set_rule_version(1);
  f->set_rule_set_hash(Sha256Hex("rules: []\n"));
  f->set_icb_code("QHM");
  f->set_severity(v1::SEVERITY_WARNING);
  *f->mutable_window_start() = At("2024-04-01T00:00:00Z");
  *f->mutable_window_end() = At("2024-05-01T00:00:00Z");
  f->set_observed(3);
  f->set_expected(1);
  f->mutable_baseline()->set_group("icb:QHM/non-dispensing");
  f->mutable_baseline()->set_peers(40);
  v1::Evidence* ev = f->add_evidence();
  ev->set_log_index(17);
  ev->set_event_id("claim-0001");
  f->set_judged_at_tree_size(18);
  f->set_summary("Item-of-service claim C-2024-0001 duplicates an earlier claim.");
  f->set_claim_id("C-2024-0001");
  f->set_rule_kind("duplicate_item_of_service");
  return e;
}

v1::Envelope ValidDecision() {
  v1::Envelope e = Base(v1::EVENT_KIND_FLAG_DECISION, "decision-0001");
  v1::FlagDecision* d = e.mutable_flag_decision();
  d->set_flag_id(kFlagId);
  d->set_outcome(v1::DECISION_OUTCOME_UPHOLD);
  d->set_reason("Confirmed duplicate with the practice manager.");
  d->set_decided_by("jane.smith@icb.nhs.uk");
  return e;
}

v1::Envelope ValidInstruction() {
  v1::Envelope e = Base(v1::EVENT_KIND_PAYMENT_INSTRUCTION, "instruction-0001");
  v1::PaymentInstruction* i = e.mutable_payment_instruction();
  i->set_instruction_id("PI-1");
  i->set_claim_id("C-2024-0001");
  i->set_action(v1::PAYMENT_ACTION_HOLD);
  i->set_flag_id(kFlagId);
  i->set_amount_pence(127320);
  return e;
}

std::vector<Example> AllValid() {
  return {
      {"claim", bus::kClaimsTopic, ValidClaim()},
      {"qof_claim", bus::kClaimsTopic, ValidQofClaim()},
      {"referral", bus::kReferralsTopic, ValidReferral()},
      {"patient_contact", bus::kVisitsTopic, ValidContact()},
      {"monitoring_visit", bus::kVisitsTopic, ValidVisit()},
      {"practice_update", bus::kPracticesTopic, ValidPractice()},
      {"rule_set", bus::kRuleSetsTopic, ValidRuleSet()},
      {"flag", bus::kFlagsTopic, ValidFlag()},
      {"flag_decision", bus::kDecisionsTopic, ValidDecision()},
      {"payment_instruction", bus::kPaymentInstructionsTopic, ValidInstruction()},
  };
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << p;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::filesystem::path kSourceDir = PROBITY_SOURCE_DIR;
const std::filesystem::path kTestData = kSourceDir / "tests/common/codec/testdata";
const std::filesystem::path kCorpus = kSourceDir / "tests/common/codec/corpus";

// Decode, expecting a rejection; returns it (or an empty one after a failure).
Rejection Rejected(std::string_view topic, std::string_view value,
                   std::optional<std::string_view> header = std::nullopt,
                   const Policy& policy = Policy()) {
  auto r = Decode(topic, value, header, policy, kNow);
  if (auto* d = std::get_if<Decoded>(&r)) {
    ADD_FAILURE() << "accepted: " << ToJson(d->envelope);
    return {};
  }
  return std::get<Rejection>(r);
}

std::string ValidateCode(std::string_view topic, const v1::Envelope& e,
                         const Policy& policy = Policy()) {
  auto r = Validate(topic, e, policy, kNow);
  return r ? r->reason_code : "";
}

// ---- Valid events ----

TEST(CodecDecode, EveryKindIsAcceptedAsBinary) {
  for (const Example& ex : AllValid()) {
    SCOPED_TRACE(ex.name);
    auto r = Decode(ex.topic, ex.envelope.SerializeAsString(), std::nullopt, Policy(), kNow);
    ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
    const Decoded& d = std::get<Decoded>(r);
    EXPECT_EQ(d.content_type, ContentType::kProtobuf);
    EXPECT_EQ(d.envelope.SerializeAsString(), ex.envelope.SerializeAsString());
  }
}

TEST(CodecDecode, EveryKindIsAcceptedAsJson) {
  for (const Example& ex : AllValid()) {
    SCOPED_TRACE(ex.name);
    std::string json = ToJson(ex.envelope);
    ASSERT_FALSE(json.empty());
    auto r = Decode(ex.topic, json, "application/json", Policy(), kNow);
    ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
    const Decoded& d = std::get<Decoded>(r);
    EXPECT_EQ(d.content_type, ContentType::kJson);
    EXPECT_EQ(d.envelope.SerializeAsString(), ex.envelope.SerializeAsString());
  }
}

TEST(CodecDecode, JsonAcceptsLowerCamelCaseNamesAndNumbersForInt64) {
  std::string json = R"({"eventId":"c-1","kind":"EVENT_KIND_CLAIM","schemaVersion":1,
    "practiceCode":"A81001","occurredAt":"2024-05-01T09:30:00Z",
    "claim":{"claimId":"C1","stream":"PAYMENT_STREAM_GLOBAL_SUM",
      "periodStart":"2024-04-01T00:00:00Z","periodEnd":"2024-05-01T00:00:00Z",
      "amountPence":500000}})";
  auto r = Decode(bus::kClaimsTopic, json, "application/json", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.claim().amount_pence(), 500000);
}

TEST(CodecDecode, VisitsTopicCarriesContactsAndMonitoringVisits) {
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, ValidContact()), "");
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, ValidVisit()), "");
}

TEST(CodecDecode, RuleSetNeedsNoPracticeCodeButOthersDo) {
  EXPECT_EQ(ValidateCode(bus::kRuleSetsTopic, ValidRuleSet()), "");
  v1::Envelope e = ValidFlag();
  e.clear_practice_code();
  Rejection r = *Validate(bus::kFlagsTopic, e, Policy(), kNow);
  EXPECT_EQ(r.reason_code, "MISSING_FIELD");
  EXPECT_EQ(r.message, "practice_code is required");
}

// ---- Content-type header ----

TEST(CodecContentType, ParsesTheAcceptedForms) {
  struct Case {
    std::optional<std::string_view> header;
    ContentType want;
  };
  const Case cases[] = {
      {std::nullopt, ContentType::kProtobuf},
      {"application/x-protobuf", ContentType::kProtobuf},
      {"application/protobuf", ContentType::kProtobuf},
      {"application/vnd.google.protobuf", ContentType::kProtobuf},
      {"Application/X-Protobuf", ContentType::kProtobuf},
      {"application/x-protobuf; messageType=probity.v1.Envelope", ContentType::kProtobuf},
      {"application/json", ContentType::kJson},
      {"APPLICATION/JSON", ContentType::kJson},
      {"application/json; charset=utf-8", ContentType::kJson},
      {"application/json;charset=UTF-8", ContentType::kJson},
      {" application/json ; charset=\"utf-8\" ", ContentType::kJson},
      {"application/json; charset=utf8;", ContentType::kJson},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header.value_or("(absent)"));
    auto r = ParseContentType(c.header);
    ASSERT_TRUE(std::holds_alternative<ContentType>(r)) << std::get<Rejection>(r).message;
    EXPECT_EQ(std::get<ContentType>(r), c.want);
  }
}

TEST(CodecContentType, RejectsEverythingElse) {
  for (std::string_view h : {"", " ", "text/plain", "application/jsonx", "application/xml",
                             "application/json; charset=latin1", "application/json; charset",
                             "json", "application/x-protobuf-json", "*/*"}) {
    SCOPED_TRACE(h);
    auto r = ParseContentType(h);
    ASSERT_TRUE(std::holds_alternative<Rejection>(r));
    EXPECT_EQ(std::get<Rejection>(r).reason_code, "UNSUPPORTED_CONTENT_TYPE");
  }
  EXPECT_THAT(std::get<Rejection>(ParseContentType("text/plain")).message,
              HasSubstr("'text/plain'"));
}

TEST(CodecContentType, HeaderChoosesTheParser) {
  // Valid binary labelled JSON, and valid JSON labelled binary, are both rejected.
  std::string binary = ValidClaim().SerializeAsString();
  EXPECT_EQ(Rejected(bus::kClaimsTopic, binary, "application/json").reason_code, "MALFORMED_JSON");
  std::string json = ToJson(ValidClaim());
  EXPECT_EQ(Rejected(bus::kClaimsTopic, json, std::nullopt).reason_code, "MALFORMED_PROTOBUF");
}

TEST(CodecDecode, JsonDuplicateKeyCheckHasNoFalsePositives) {
  // The same name in different objects, and braces, quotes and keys inside string values, are
  // not duplicates.
  v1::Envelope e = ValidFlag();
  v1::Evidence* ev = e.mutable_flag()->add_evidence();
  ev->set_log_index(18);
  ev->set_event_id("claim-0002");
  e.mutable_flag()->set_summary(R"(odd "text" {"event_id":"x","event_id":"y"} \ [])");
  std::string json = ToJson(e);
  auto r = Decode(bus::kFlagsTopic, json, "application/json", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.flag().evidence_size(), 2);
  // A duplicate inside one element of a repeated field is found, with its path.
  std::string dup = R"({"event_id":"f","flag":{"evidence":[{"log_index":1},)"
                    R"({"event_id":"a","eventId":"b"}]}})";
  Rejection rej = Rejected(bus::kFlagsTopic, dup, "application/json");
  EXPECT_EQ(rej.reason_code, "MALFORMED_JSON");
  EXPECT_THAT(rej.message, HasSubstr("'flag.evidence[].event_id'"));
}

// ---- Strict JSON (RFC 8259): no raw control characters inside strings ----

// `json` with `from` (which must occur) replaced by `to`; sets *at to where `to` starts.
std::string Replace(std::string json, std::string_view from, std::string_view to,
                    size_t* at = nullptr) {
  size_t pos = json.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos == std::string::npos) return json;
  json.replace(pos, from.size(), to);
  if (at != nullptr) *at = pos;
  return json;
}

std::string Hex(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", c);
  return buf;
}

TEST(CodecStrictJson, RawControlCharacterInAStringValueIsRejectedWithFieldAndOffset) {
  const std::string json = ToJson(ValidReferral());
  for (unsigned char c : {0x00, 0x09, 0x0a, 0x1f}) {
    SCOPED_TRACE(Hex(c));
    size_t at;
    std::string bad =
        Replace(json, "CARDIOLOGY", std::string("CARDIO") + static_cast<char>(c) + "LOGY", &at);
    Rejection r = Rejected(bus::kReferralsTopic, bad, "application/json");
    EXPECT_EQ(r.reason_code, "MALFORMED_JSON");
    EXPECT_EQ(r.message, "JSON has a raw control character " + Hex(c) + " at byte offset " +
                             std::to_string(at + 6) +
                             ", in the value of 'referral.specialty_code'; RFC 8259 requires "
                             "U+0000..U+001F inside strings to be escaped (e.g. \\t, \\u0001)");
  }
  // Inside an element of a repeated message field, and in a value that is later overwritten.
  std::string flag = ToJson(ValidFlag());
  size_t at;
  std::string bad = Replace(flag, "\"claim-0001\"", "\"claim\x01-0001\"", &at);
  Rejection r = Rejected(bus::kFlagsTopic, bad, "application/json");
  EXPECT_EQ(r.reason_code, "MALFORMED_JSON");
  EXPECT_THAT(r.message, HasSubstr("0x01 at byte offset " + std::to_string(at + 6) +
                                   ", in the value of 'flag.evidence[].event_id'"));
}

TEST(CodecStrictJson, RawControlCharacterInAKeyIsRejectedNotTakenForAnUnknownField) {
  const std::string json = ToJson(ValidReferral());
  for (unsigned char c : {0x00, 0x09, 0x0a, 0x1f}) {
    SCOPED_TRACE(Hex(c));
    const std::string raw(1, static_cast<char>(c));
    size_t at;
    std::string nested = Replace(json, "\"specialty_code\"", "\"specialty" + raw + "code\"", &at);
    Rejection r = Rejected(bus::kReferralsTopic, nested, "application/json");
    EXPECT_EQ(r.reason_code, "MALFORMED_JSON") << r.message;
    EXPECT_THAT(r.message, HasSubstr("raw control character " + Hex(c) + " at byte offset " +
                                     std::to_string(at + 10) + ", in key 'referral.specialty\\" +
                                     Hex(c).substr(1) + "code'"));
    std::string top = Replace(json, "\"event_id\"", "\"" + raw + "event_id\"", &at);
    r = Rejected(bus::kReferralsTopic, top, "application/json");
    EXPECT_EQ(r.reason_code, "MALFORMED_JSON") << r.message;
    EXPECT_THAT(r.message, HasSubstr(" at byte offset " + std::to_string(at + 1) + ", in key '\\" +
                                     Hex(c).substr(1) + "event_id'"));
  }
}

TEST(CodecStrictJson, EscapedControlCharactersDelAndWhitespaceBetweenTokensAreAccepted) {
  // ToJson escapes control characters (\t, \u0001); the escaped forms decode to the raw bytes.
  v1::Envelope e = ValidReferral();
  e.mutable_referral()->set_specialty_code(std::string("CARDIO\tLOGY\x01\x1f\n\x7f", 15));
  std::string json = ToJson(e);
  EXPECT_THAT(json, HasSubstr(R"(CARDIO\tLOGY\u0001\u001f\n)"));
  auto r = Decode(bus::kReferralsTopic, json, "application/json", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.referral().specialty_code(),
            e.referral().specialty_code());
  // DEL (0x7f) is not a control character in RFC 8259's sense; raw, it is accepted.
  json = Replace(ToJson(ValidReferral()), "CARDIOLOGY", "CARDIO\x7fLOGY");
  r = Decode(bus::kReferralsTopic, json, "application/json", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.referral().specialty_code(), "CARDIO\x7fLOGY");
  // Raw tabs, line feeds and carriage returns between tokens are whitespace; escaped quotes and
  // backslashes do not end a string early.
  json = Replace(ToJson(ValidReferral()), "\"specialty_code\":\"CARDIOLOGY\"",
                 "\r\n\t\"specialty_code\"\t:\n\"CARDIO\\\\\\\"LOGY\"\r\n");
  r = Decode(bus::kReferralsTopic, json, "application/json", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.referral().specialty_code(), "CARDIO\\\"LOGY");
}

TEST(CodecStrictJson, ControlCharacterInMalformedOrDeepJsonIsFoundSafely) {
  // The check runs before the parser, on any bytes: where the text cannot be followed the
  // message says so, still with the offset.
  Rejection r = Rejected(bus::kClaimsTopic, "{\"a\" x \"b\x01\"}", "application/json");
  EXPECT_EQ(r.reason_code, "MALFORMED_JSON");
  EXPECT_THAT(r.message, HasSubstr("0x01 at byte offset 9, in a string;"));
  r = Rejected(bus::kClaimsTopic, "{\"event_id\":\"a\x02", "application/json");
  EXPECT_THAT(r.message, HasSubstr("0x02 at byte offset 14, in the value of 'event_id'"));
  r = Rejected(bus::kClaimsTopic, "\"top\x03\"", "application/json");
  EXPECT_THAT(r.message, HasSubstr("0x03 at byte offset 4, in a string value"));
  r = Rejected(bus::kClaimsTopic, "\"\\\x04\"", "application/json");  // an escaped raw byte
  EXPECT_THAT(r.message, HasSubstr("0x04 at byte offset 2"));
  const int depth = 100000;
  std::string deep = std::string(depth, '[') + "\"x\x05\"" + std::string(depth, ']');
  r = Rejected(bus::kClaimsTopic, deep, "application/json");
  EXPECT_EQ(r.reason_code, "MALFORMED_JSON");
  EXPECT_THAT(r.message, HasSubstr("0x05 at byte offset " + std::to_string(depth + 2)));
}

// ---- Garbage ----

TEST(CodecDecode, GarbageBytesAreRejectedCleanly) {
  const std::string inputs[] = {
      std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
      std::string("\x0a\xff\x01", 3),      // length-delimited field longer than the input
      std::string("\x0a\x02\xc3\x28", 4),  // event_id with invalid UTF-8
      std::string("\x00", 1),              // field number 0
      std::string("\x0b", 1),              // start group with no end
      "hello world",
  };
  for (const std::string& in : inputs) {
    for (std::optional<std::string_view> h :
         {std::optional<std::string_view>(), std::optional<std::string_view>("application/json")}) {
      Rejection r = Rejected(bus::kClaimsTopic, in, h);
      EXPECT_FALSE(r.reason_code.empty());
      EXPECT_FALSE(r.message.empty());
    }
  }
}

TEST(CodecDecode, RejectionMessagesAreOneLineOfPrintableAscii) {
  v1::Envelope e = ValidClaim();
  e.set_practice_code("\xe2\x82\xac'\n\\ \x01");  // a euro sign, a quote, a newline, ...
  Rejection r = *Validate(bus::kClaimsTopic, e, Policy(), kNow);
  EXPECT_EQ(r.reason_code, "INVALID_ODS_CODE");
  EXPECT_EQ(r.message,
            "practice_code '\\xe2\\x82\\xac\\'\\x0a\\\\ \\x01' is not an ODS practice code (an "
            "uppercase letter and five digits, e.g. A81001)");
  e.set_practice_code(std::string(500, 'Z'));
  r = *Validate(bus::kClaimsTopic, e, Policy(), kNow);
  EXPECT_LT(r.message.size(), 200u);
}

// ---- Every reason code ----

struct ReasonCase {
  std::string name;
  std::string expected_code;
  std::string topic;
  std::string value;
  std::optional<std::string> header;
  std::string message_contains;
};

std::string Bin(const v1::Envelope& e) { return e.SerializeAsString(); }

v1::Envelope With(v1::Envelope e, const std::function<void(v1::Envelope&)>& f) {
  f(e);
  return e;
}

void SetEnumByNumber(google::protobuf::Message* m, const char* field, int number) {
  const auto* fd = m->GetDescriptor()->FindFieldByName(field);
  ASSERT_NE(fd, nullptr);
  m->GetReflection()->SetEnumValue(m, fd, number);
}

std::vector<ReasonCase> ReasonCases() {
  const std::string claims(bus::kClaimsTopic);
  const std::string json_ct = "application/json";
  std::vector<ReasonCase> cs;
  auto add = [&](std::string name, std::string code, std::string topic, std::string value,
                 std::string contains, std::optional<std::string> header = std::nullopt) {
    cs.push_back({std::move(name), std::move(code), std::move(topic), std::move(value),
                  std::move(header), std::move(contains)});
  };
  add("too_large", "MESSAGE_TOO_LARGE", claims, std::string((1 << 20) + 1, 'x'),
      "1048577 bytes, over the limit of 1048576");
  add("bad_content_type", "UNSUPPORTED_CONTENT_TYPE", claims, Bin(ValidClaim()), "'text/csv'",
      "text/csv");
  add("empty_value", "EMPTY_MESSAGE", claims, "", "empty");
  add("empty_json_object", "EMPTY_MESSAGE", claims, "{}", "empty envelope", json_ct);
  add("bad_wire_format", "MALFORMED_PROTOBUF", claims, "\xff\xff\xff", "not a binary protobuf");
  add("bad_json", "MALFORMED_JSON", claims, "{\"event_id\": ", "protobuf JSON mapping", json_ct);
  add("json_duplicate_key", "MALFORMED_JSON", claims,
      R"({"event_id":"a","claim":{"claim_id":"x","claimId":"y"},"event_id":"b"})",
      "JSON gives field 'claim.claim_id' more than once", json_ct);
  add("json_duplicate_key_escaped", "MALFORMED_JSON", claims,
      R"({"event_id":"a","event\u005fid":"b"})", "'event_id' more than once", json_ct);
  add("json_raw_control_character", "MALFORMED_JSON", claims,
      "{\"event_id\":\"a\tb\",\"kind\":\"EVENT_KIND_CLAIM\"}",
      "raw control character 0x09 at byte offset 14, in the value of 'event_id'", json_ct);
  add("json_wrong_type", "MALFORMED_JSON", claims, R"({"schema_version": "one"})", "", json_ct);
  add("binary_unknown_field", "UNKNOWN_FIELD", claims,
      Bin(ValidClaim()) + std::string("\x98\x06\x01", 3), "field number 99 (varint)");
  {
    // An unknown field inside the claim, not at the top level.
    v1::Claim c = ValidClaim().claim();
    std::string claim_bytes = c.SerializeAsString() + std::string("\xa0\x01\x05", 3);  // field 20
    v1::Envelope e = ValidClaim();
    e.clear_claim();
    std::string bytes = Bin(e) + "\x52" + static_cast<char>(claim_bytes.size()) + claim_bytes;
    add("nested_unknown_field", "UNKNOWN_FIELD", claims, bytes, "claim has field number 20");
  }
  add("json_unknown_field", "UNKNOWN_FIELD", claims,
      R"({"event_id":"e1","kind":"EVENT_KIND_CLAIM","colour":"blue"})", "colour", json_ct);
  add("unknown_topic", "UNKNOWN_TOPIC", "probity.log.v1", Bin(ValidClaim()),
      "'probity.log.v1' is not an input topic");
  add("missing_event_id", "MISSING_FIELD", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.clear_event_id(); })), "event_id is required");
  add("missing_occurred_at", "MISSING_FIELD", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.clear_occurred_at(); })), "occurred_at is required");
  add("long_event_id", "FIELD_TOO_LONG", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_event_id(std::string(129, 'e')); })),
      "event_id is 129 bytes, over the limit of 128");
  add("event_id_with_space", "INVALID_IDENTIFIER", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_event_id("claim 1"); })), "'claim 1'");
  add("schema_version_2", "UNSUPPORTED_SCHEMA_VERSION", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_schema_version(2); })), "schema_version 2");
  add("schema_version_missing", "UNSUPPORTED_SCHEMA_VERSION", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.clear_schema_version(); })), "schema_version 0");
  add("kind_missing", "MISSING_FIELD", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.clear_kind(); })),
      "kind is required (got EVENT_KIND_UNSPECIFIED)");
  add("kind_payload_mismatch", "KIND_PAYLOAD_MISMATCH", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_kind(v1::EVENT_KIND_REFERRAL); })),
      "kind EVENT_KIND_REFERRAL does not match the payload (claim)");
  add("no_payload", "KIND_PAYLOAD_MISMATCH", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.clear_claim(); })), "payload (none)");
  add("wrong_topic", "WRONG_TOPIC", claims, Bin(ValidReferral()),
      "kind EVENT_KIND_REFERRAL does not belong on 'probity.claims.v1', which carries "
      "EVENT_KIND_CLAIM");
  add("wrong_topic_visits", "WRONG_TOPIC", std::string(bus::kVisitsTopic), Bin(ValidClaim()),
      "EVENT_KIND_PATIENT_CONTACT or EVENT_KIND_MONITORING_VISIT");
  add("unknown_kind_number", "UNKNOWN_ENUM_VALUE", claims,
      Bin(With(ValidClaim(), [](auto& e) { SetEnumByNumber(&e, "kind", 42); })),
      "kind 42 is not a known EventKind value");
  add("unknown_stream_number", "UNKNOWN_ENUM_VALUE", claims,
      Bin(With(ValidClaim(), [](auto& e) { SetEnumByNumber(e.mutable_claim(), "stream", 99); })),
      "claim.stream 99 is not a known PaymentStream value");
  add("unknown_optional_enum_number", "UNKNOWN_ENUM_VALUE", claims,
      Bin(With(ValidClaim(), [](auto& e) { SetEnumByNumber(e.mutable_claim(), "status", 9); })),
      "claim.status 9");
  add("json_unknown_enum_name", "UNKNOWN_ENUM_VALUE", claims,
      R"({"event_id":"e1","kind":"EVENT_KIND_INVOICE"})", "EVENT_KIND_INVOICE", json_ct);
  add("json_unknown_enum_number", "UNKNOWN_ENUM_VALUE", claims,
      R"({"event_id":"e1","kind":77,"schema_version":1})", "kind 77", json_ct);
  add("bad_ods", "INVALID_ODS_CODE", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_practice_code("A8100"); })),
      "practice_code 'A8100' is not an ODS practice code");
  add("lowercase_ods", "INVALID_ODS_CODE", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_practice_code("a81001"); })), "'a81001'");
  add("bad_merged_from", "INVALID_ODS_CODE", std::string(bus::kPracticesTopic),
      Bin(With(ValidPractice(),
               [](auto& e) { e.mutable_practice_update()->set_merged_from_practice_code("X1"); })),
      "practice_update.merged_from_practice_code 'X1'");
  add("bad_provider_code", "INVALID_ORG_CODE", std::string(bus::kReferralsTopic),
      Bin(With(ValidReferral(), [](auto& e) { e.mutable_referral()->set_provider_code("rj1"); })),
      "referral.provider_code 'rj1'");
  add("bad_icb_code", "INVALID_ORG_CODE", std::string(bus::kPracticesTopic),
      Bin(With(ValidPractice(), [](auto& e) { e.mutable_practice_update()->set_icb_code("Q"); })),
      "practice_update.icb_code 'Q'");
  add("negative_nanos", "INVALID_TIMESTAMP", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.mutable_occurred_at()->set_nanos(-1); })),
      "occurred_at {seconds: 1714555800, nanos: -1}");
  add("year_10000", "INVALID_TIMESTAMP", claims,
      Bin(With(
          ValidClaim(),
          [](auto& e) { e.mutable_claim()->mutable_period_end()->set_seconds(253402300800); })),
      "claim.period_end");
  add("before_2000", "TIMESTAMP_TOO_EARLY", claims,
      Bin(With(ValidClaim(),
               [](auto& e) { *e.mutable_occurred_at() = At("1999-12-31T23:59:59Z"); })),
      "occurred_at 1999-12-31T23:59:59Z is before 2000-01-01T00:00:00Z");
  add("in_future", "TIMESTAMP_IN_FUTURE", claims,
      Bin(With(ValidClaim(),
               [](auto& e) { *e.mutable_occurred_at() = FromMicros(kNow + 25 * kHour); })),
      "occurred_at 2024-06-02T01:00:00Z is more than 86400 s after the time of ingest");
  add("recorded_in_future", "TIMESTAMP_IN_FUTURE", claims,
      Bin(With(ValidClaim(),
               [](auto& e) { *e.mutable_recorded_at() = At("2030-01-01T00:00:00Z"); })),
      "recorded_at");
  add("recorded_before_occurred", "RECORDED_BEFORE_OCCURRED", claims,
      Bin(With(ValidClaim(),
               [](auto& e) { *e.mutable_recorded_at() = At("2024-04-29T09:29:59Z"); })),
      "recorded_at 2024-04-29T09:29:59Z is more than 86400 s before occurred_at "
      "2024-05-01T09:30:00Z");
  add("empty_period", "TIMESTAMPS_OUT_OF_ORDER", claims,
      Bin(With(
          ValidClaim(),
          [](auto& e) { *e.mutable_claim()->mutable_period_end() = e.claim().period_start(); })),
      "claim.period_end 2024-04-01T00:00:00Z must be after claim.period_start "
      "2024-04-01T00:00:00Z");
  add("remedy_before_notice", "TIMESTAMPS_OUT_OF_ORDER", std::string(bus::kVisitsTopic),
      Bin(With(ValidVisit(),
               [](auto& e) {
                 *e.mutable_monitoring_visit()->mutable_remedy_due_at() =
                     At("2024-04-01T00:00:00Z");
               })),
      "monitoring_visit.remedy_due_at");
  add("supersedes_itself", "SUPERSEDES_ITSELF", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.set_supersedes_event_id(e.event_id()); })),
      "supersedes_event_id 'claim-0001'");
  add("negative_amount", "VALUE_OUT_OF_RANGE", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.mutable_claim()->set_amount_pence(-1); })),
      "claim.amount_pence -1 is outside 0..1000000000");
  add("qof_zero_maximum", "VALUE_OUT_OF_RANGE", claims,
      Bin(With(ValidQofClaim(), [](auto& e) { e.mutable_claim()->set_points_maximum(0); })),
      "claim.points_maximum 0 is outside (0, 1000000]");
  add("nan_points", "NON_FINITE_NUMBER", claims,
      Bin(With(ValidQofClaim(),
               [](auto& e) {
                 e.mutable_claim()->set_points_claimed(std::numeric_limits<double>::quiet_NaN());
               })),
      "claim.points_claimed nan is not a finite number");
  add("amount_mismatch", "AMOUNT_MISMATCH", claims,
      Bin(With(ValidClaim(), [](auto& e) { e.mutable_claim()->set_amount_pence(127441); })),
      "claim.amount_pence 127441 differs from quantity 120 x unit_price_pence 1061");
  add("bad_ubrn", "INVALID_UBRN", std::string(bus::kReferralsTopic),
      Bin(With(ValidReferral(), [](auto& e) { e.mutable_referral()->set_ubrn("12345678901X"); })),
      "referral.ubrn '12345678901X' is not an e-RS UBRN (12 digits)");
  add("bad_tfc", "INVALID_TREATMENT_FUNCTION_CODE", std::string(bus::kReferralsTopic),
      Bin(With(ValidReferral(),
               [](auto& e) { e.mutable_referral()->set_treatment_function_code("32"); })),
      "referral.treatment_function_code '32'");
  add("merged_from_self", "MERGED_FROM_SELF", std::string(bus::kPracticesTopic),
      Bin(With(
          ValidPractice(),
          [](auto& e) { e.mutable_practice_update()->set_merged_from_practice_code("A81001"); })),
      "'A81001' is the practice itself");
  add("uppercase_flag_id", "INVALID_HEX_DIGEST", std::string(bus::kFlagsTopic),
      Bin(With(ValidFlag(), [](auto& e) { e.mutable_flag()->set_flag_id(std::string(64, 'A')); })),
      "flag.flag_id");
  add("short_rule_set_hash", "INVALID_HEX_DIGEST", std::string(bus::kRuleSetsTopic),
      Bin(With(ValidRuleSet(), [](auto& e) { e.mutable_rule_set()->set_sha256_hex("abc"); })),
      "rule_set.sha256_hex 'abc'");
  add("rule_set_hash_mismatch", "RULE_SET_HASH_MISMATCH", std::string(bus::kRuleSetsTopic),
      Bin(With(ValidRuleSet(),
               [](auto& e) { e.mutable_rule_set()->set_yaml_content("rules: [x]\n"); })),
      "is not the SHA-256 of yaml_content, which is '" + Sha256Hex("rules: [x]\n") + "'");
  add("hold_policy_hash_mismatch", "POLICY_HASH_MISMATCH", std::string(bus::kPoliciesTopic),
      Bin(With(ValidHoldPolicy(),
               [](auto& e) { e.mutable_hold_policy()->set_yaml_content("holds: [x]\n"); })),
      "is not the SHA-256 of yaml_content, which is '" + Sha256Hex("holds: [x]\n") + "'");
  return cs;
}

TEST(CodecReasons, EachCaseGivesItsCodeAndANamedMessage) {
  for (const ReasonCase& c : ReasonCases()) {
    SCOPED_TRACE(c.name);
    std::optional<std::string_view> h;
    if (c.header) h = *c.header;
    Rejection r = Rejected(c.topic, c.value, h);
    EXPECT_EQ(r.reason_code, c.expected_code) << r.message;
    EXPECT_THAT(r.message, HasSubstr(c.message_contains));
  }
}

TEST(CodecReasons, EveryCatalogueCodeIsProducedByACase) {
  std::set<std::string> produced;
  for (const ReasonCase& c : ReasonCases()) produced.insert(c.expected_code);
  for (std::string_view code : AllReasonCodes()) {
    EXPECT_TRUE(produced.count(std::string(code))) << code << " has no test case";
  }
  for (const std::string& code : produced) {
    auto all = AllReasonCodes();
    EXPECT_NE(std::find(all.begin(), all.end(), code), all.end()) << code << " not catalogued";
  }
}

TEST(CodecReasons, CatalogueIsUniqueUpperSnake) {
  std::set<std::string_view> seen;
  for (std::string_view code : AllReasonCodes()) {
    EXPECT_TRUE(seen.insert(code).second) << code;
    EXPECT_TRUE(std::regex_match(std::string(code), std::regex("[A-Z]+(_[A-Z0-9]+)*"))) << code;
  }
}

// ---- ParseStored: entries read back from the log, not judged again ----

TEST(CodecParseStored, ReadsWhatDecodeAcceptedToTheSameEnvelope) {
  for (const Example& ex : AllValid()) {
    SCOPED_TRACE(ex.name);
    std::string bin = Bin(ex.envelope);
    StatusOr<v1::Envelope> b = ParseStored(bin, ContentType::kProtobuf);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->SerializeAsString(), bin);
    StatusOr<v1::Envelope> j = ParseStored(ToJson(ex.envelope), ContentType::kJson);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_EQ(j->SerializeAsString(), bin);
  }
}

TEST(CodecParseStored, ReadsJsonDecodeNowRejectsForARawControlCharacter) {
  // As a log written before JSON was read strictly holds it.
  const std::string bad =
      Replace(ToJson(ValidReferral()), "CARDIOLOGY", std::string("CARDIO\tLO\x01GY"));
  EXPECT_EQ(Rejected(bus::kReferralsTopic, bad, "application/json").reason_code, "MALFORMED_JSON");
  StatusOr<v1::Envelope> e = ParseStored(bad, ContentType::kJson);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->referral().specialty_code(), "CARDIO\tLO\x01GY");
  EXPECT_EQ(e->event_id(), "ref-0001");
}

TEST(CodecParseStored, ValidatesNothingAndSkipsWhatTheSchemaDoesNotDefine) {
  // Domain rules, the clock and the size limit are not applied.
  v1::Envelope e = With(ValidClaim(), [](auto& x) {
    x.set_practice_code("a8100");
    *x.mutable_occurred_at() = At("2099-01-01T00:00:00Z");
    x.mutable_claim()->set_amount_pence(-5);
  });
  ASSERT_TRUE(Validate(bus::kClaimsTopic, e, Policy(), kNow).has_value());
  StatusOr<v1::Envelope> got = ParseStored(Bin(e), ContentType::kProtobuf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->SerializeAsString(), Bin(e));
  std::string big = ToJson(With(ValidRuleSet(), [](auto& x) {
    x.mutable_rule_set()->set_yaml_content(std::string(2 << 20, 'y'));
  }));
  EXPECT_TRUE(ParseStored(big, ContentType::kJson).ok());
  // Unknown fields: binary keeps them, JSON skips them, as do unknown enum names; a field given
  // twice reads as protobuf reads it (the last value).
  std::string unknown = Bin(ValidClaim()) + std::string("\x98\x06\x01", 3);
  EXPECT_TRUE(ParseStored(unknown, ContentType::kProtobuf).ok());
  StatusOr<v1::Envelope> j =
      ParseStored(R"({"event_id":"a","colour":"blue","kind":"EVENT_KIND_INVOICE","event_id":"b"})",
                  ContentType::kJson);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->event_id(), "b");
  EXPECT_EQ(j->kind(), v1::EVENT_KIND_UNSPECIFIED);
}

TEST(CodecParseStored, BytesThatAreNoEnvelopeAreDataLossNotACrash) {
  for (std::string_view in : {std::string_view("\xff\xff\xff", 3), std::string_view("\x0b", 1)}) {
    StatusOr<v1::Envelope> e = ParseStored(in, ContentType::kProtobuf);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), Code::kDataLoss);
  }
  for (std::string_view in :
       {"", "{\"event_id\": ", "[1,2]", "{\"schema_version\":\"one\"}", "\xff\xfe"}) {
    StatusOr<v1::Envelope> e = ParseStored(in, ContentType::kJson);
    ASSERT_FALSE(e.ok()) << in;
    EXPECT_EQ(e.status().code(), Code::kDataLoss);
    EXPECT_TRUE(std::all_of(e.status().message().begin(), e.status().message().end(), [](char c) {
      return c >= 0x20 && c < 0x7f;
    })) << e.status().message();
  }
  // JSON that is wrong only for validation still reads.
  EXPECT_TRUE(ParseStored("{}", ContentType::kJson).ok());
  EXPECT_TRUE(ParseStored("", ContentType::kProtobuf).ok());
}

// ---- Domain rules in more detail ----

TEST(CodecClaims, AmountMayDifferFromQuantityTimesPriceByOnePennyPerUnit) {
  v1::Envelope e = ValidClaim();  // 120 x 1061 = 127320
  e.mutable_claim()->set_amount_pence(127320 + 120);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
  e.mutable_claim()->set_amount_pence(127320 - 120);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
  e.mutable_claim()->set_amount_pence(127320 - 121);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "AMOUNT_MISMATCH");
  // Without a unit price there is nothing to compare against.
  e.mutable_claim()->set_unit_price_pence(0);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
}

TEST(CodecClaims, CapsAreInclusiveAndConfigurable) {
  v1::Envelope e = ValidClaim();
  v1::Claim* c = e.mutable_claim();
  c->set_unit_price_pence(0);
  c->set_amount_pence(1'000'000'000);
  c->set_quantity(10'000'000);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
  c->set_amount_pence(1'000'000'001);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "VALUE_OUT_OF_RANGE");
  Policy p;
  p.max_amount_pence = 2'000'000'000;
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e, p), "");
  c->set_quantity(10'000'001);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e, p), "VALUE_OUT_OF_RANGE");
  c->set_quantity(1);
  c->set_eligible_cohort(-1);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e, p), "VALUE_OUT_OF_RANGE");
}

TEST(CodecClaims, QofNeedsIndicatorAndPositiveMaximum) {
  v1::Envelope e = ValidQofClaim();
  e.mutable_claim()->clear_indicator_code();
  Rejection r = *Validate(bus::kClaimsTopic, e, Policy(), kNow);
  EXPECT_EQ(r.reason_code, "MISSING_FIELD");
  EXPECT_EQ(r.message, "claim.indicator_code is required");
  e = ValidQofClaim();
  e.mutable_claim()->set_points_claimed(-0.5);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "VALUE_OUT_OF_RANGE");
  // Claiming more points than the maximum is for the rules to flag, not for ingest to reject.
  e.mutable_claim()->set_points_claimed(13);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
}

TEST(CodecClaims, StreamAndPeriodAreRequired) {
  v1::Envelope e = ValidClaim();
  e.mutable_claim()->clear_stream();
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "MISSING_FIELD");
  e = ValidClaim();
  e.mutable_claim()->clear_period_start();
  EXPECT_EQ(Validate(bus::kClaimsTopic, e, Policy(), kNow)->message,
            "claim.period_start is required");
}

TEST(CodecTime, FutureSkewIsInclusiveAndConfigurable) {
  v1::Envelope e = ValidClaim();
  e.clear_recorded_at();
  *e.mutable_occurred_at() = FromMicros(kNow + 24 * kHour);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
  *e.mutable_occurred_at() = FromMicros(kNow + 24 * kHour + 1);
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "TIMESTAMP_IN_FUTURE");
  Policy p;
  p.max_future_skew = 48 * kHour;
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e, p), "");
  *e.mutable_occurred_at() = At("2000-01-01T00:00:00Z");
  EXPECT_EQ(ValidateCode(bus::kClaimsTopic, e), "");
}

TEST(CodecTime, ExtremeNowDoesNotOverflow) {
  v1::Envelope e = ValidClaim();
  EXPECT_FALSE(Validate(bus::kClaimsTopic, e, Policy(), std::numeric_limits<Micros>::min()) ==
               std::nullopt);
  EXPECT_EQ(Validate(bus::kClaimsTopic, e, Policy(), std::numeric_limits<Micros>::max()),
            std::nullopt);
}

TEST(CodecVisits, NoticesNeedBothDates) {
  v1::Envelope e = ValidVisit();
  e.mutable_monitoring_visit()->clear_remedy_due_at();
  EXPECT_EQ(Validate(bus::kVisitsTopic, e, Policy(), kNow)->message,
            "monitoring_visit.remedy_due_at is required");
  e.mutable_monitoring_visit()->set_outcome(v1::MONITORING_OUTCOME_SATISFACTORY);
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, e), "");
  e.mutable_monitoring_visit()->set_outcome(v1::MONITORING_OUTCOME_BREACH_NOTICE);
  e.mutable_monitoring_visit()->clear_notice_issued_at();
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, e), "MISSING_FIELD");
}

TEST(CodecVisits, ContactCountAndEnums) {
  v1::Envelope e = ValidContact();
  e.mutable_patient_contact()->set_count(100000);
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, e), "");
  e.mutable_patient_contact()->set_count(100001);
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, e), "VALUE_OUT_OF_RANGE");
  e = ValidContact();
  e.mutable_patient_contact()->clear_attendance();
  EXPECT_EQ(ValidateCode(bus::kVisitsTopic, e), "MISSING_FIELD");
}

TEST(CodecPractices, ListSizeBounds) {
  v1::Envelope e = ValidPractice();
  e.mutable_practice_update()->set_list_size(1'000'001);
  EXPECT_EQ(ValidateCode(bus::kPracticesTopic, e), "VALUE_OUT_OF_RANGE");
  e = ValidPractice();
  e.mutable_practice_update()->set_weighted_list_size(-1);
  EXPECT_EQ(ValidateCode(bus::kPracticesTopic, e), "VALUE_OUT_OF_RANGE");
  e.mutable_practice_update()->set_weighted_list_size(std::numeric_limits<double>::infinity());
  EXPECT_EQ(ValidateCode(bus::kPracticesTopic, e), "NON_FINITE_NUMBER");
}

TEST(CodecRuleSets, SizeLimit) {
  v1::Envelope e = ValidRuleSet();
  Policy p;
  p.max_rule_set_bytes = 5;
  Rejection r = *Validate(bus::kRuleSetsTopic, e, p, kNow);
  EXPECT_EQ(r.reason_code, "FIELD_TOO_LONG");
  EXPECT_EQ(r.message, "rule_set.yaml_content is 10 bytes, over the limit of 5");
}

TEST(CodecDecisions, ReasonIsRequired) {
  v1::Envelope e = ValidDecision();
  e.mutable_flag_decision()->clear_reason();
  EXPECT_EQ(Validate(bus::kDecisionsTopic, e, Policy(), kNow)->message,
            "flag_decision.reason is required");
}

TEST(CodecDecode, MessageSizeLimitIsConfigurable) {
  std::string bin = Bin(ValidClaim());
  Policy p;
  p.max_message_bytes = bin.size();
  EXPECT_TRUE(std::holds_alternative<Decoded>(Decode(bus::kClaimsTopic, bin, {}, p, kNow)));
  p.max_message_bytes = bin.size() - 1;
  EXPECT_EQ(Rejected(bus::kClaimsTopic, bin, {}, p).reason_code, "MESSAGE_TOO_LARGE");
}

// ---- ToJson ----

TEST(CodecToJson, IsDeterministicSnakeCaseInFieldOrder) {
  std::string a = ToJson(ValidInstruction());
  EXPECT_EQ(a, ToJson(ValidInstruction()));
  EXPECT_EQ(a,
            R"({"event_id":"instruction-0001","kind":"EVENT_KIND_PAYMENT_INSTRUCTION",)"
            R"("schema_version":1,"practice_code":"A81001","occurred_at":"2024-05-01T09:30:00Z",)"
            R"("recorded_at":"2024-05-01T09:31:00.250Z","source_system":"test",)"
            R"("payment_instruction":{"instruction_id":"PI-1","claim_id":"C-2024-0001",)"
            R"("action":"PAYMENT_ACTION_HOLD","flag_id":")" +
                kFlagId + R"(","amount_pence":"127320"}})");
}

// ---- The documented example ----

// docs/events.md shows an example claim between these markers; testdata/example_claim.json is
// the same text. Both must stay identical and accepted.
TEST(CodecDocs, ExampleClaimInDocsIsAcceptedAndMatchesTestdata) {
  std::string doc = ReadFile(kSourceDir / "docs/events.md");
  const std::string begin = "<!-- example-claim:begin -->\n```json\n";
  const std::string end = "```\n<!-- example-claim:end -->";
  size_t b = doc.find(begin);
  size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string from_doc = doc.substr(b + begin.size(), e - b - begin.size());
  std::string testdata = ReadFile(kTestData / "example_claim.json");
  EXPECT_EQ(from_doc, testdata);
  auto r = Decode(bus::kClaimsTopic, testdata, "application/json; charset=utf-8", Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
  EXPECT_EQ(std::get<Decoded>(r).envelope.kind(), v1::EVENT_KIND_CLAIM);
}

TEST(CodecDocs, EveryReasonCodeIsDocumented) {
  std::string doc = ReadFile(kSourceDir / "docs/events.md");
  for (std::string_view code : AllReasonCodes()) {
    EXPECT_THAT(doc, HasSubstr("| `" + std::string(code) + "` |")) << code;
  }
}

// ---- The fuzz seed corpus ----

// With PROBITY_WRITE_CODEC_CORPUS=1 this rewrites tests/common/codec/corpus/ from the valid
// examples above; otherwise it checks every committed seed still decodes.
TEST(CodecFuzzCorpus, SeedsAreAccepted) {
  if (std::getenv("PROBITY_WRITE_CODEC_CORPUS") != nullptr) {
    int topic_index = 0;
    for (const Example& ex : AllValid()) {
      for (topic_index = 0; fuzz::kTopics[topic_index] != ex.topic; ++topic_index) {
      }
      std::string bin(1, static_cast<char>(fuzz::Selector(topic_index, 0)));
      bin += Bin(ex.envelope);
      std::ofstream(kCorpus / (ex.name + ".bin"), std::ios::binary) << bin;
      std::string json(1, static_cast<char>(fuzz::Selector(topic_index, 2)));
      json += ToJson(ex.envelope);
      std::ofstream(kCorpus / (ex.name + ".json"), std::ios::binary) << json;
    }
  }
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    SCOPED_TRACE(entry.path().string());
    std::string bytes = ReadFile(entry.path());
    ASSERT_FALSE(bytes.empty());
    fuzz::Input in = fuzz::Split(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    auto r = Decode(in.topic, in.value, in.header, Policy(), fuzz::kNow);
    EXPECT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<Rejection>(r).message;
    ++n;
  }
  EXPECT_GE(n, 10);
}

// ---- The fast whole-message check and the cached JSON types ----
//
// Validate() checks for unknown fields and out-of-range enum numbers through the generated code
// and asks the reflection-based check (which names the problem) only when it finds one. These
// tests put a problem at every place the schema allows one, in every kind of envelope, and expect
// the named rejection, so a place the fast check missed would show up as an accepted envelope.

TEST(CodecFastPath, CoversTheSchema) {
  // False would mean a schema change added an enum or message field that hygiene.cc's fast check
  // does not read (Validate would still be right, through reflection, but slow).
  EXPECT_TRUE(internal::FastCheckCoversSchema());
}

// One step from a message to a sub-message: a field and, for a repeated field, an index.
struct Step {
  const google::protobuf::FieldDescriptor* field;
  int index;
};

// Every message present in `m` (itself first), as the steps from `m` and the path the reason
// message uses for it ("" for the envelope).
void CollectMessages(const google::protobuf::Message& m, std::vector<Step>& steps,
                     const std::string& path,
                     std::vector<std::pair<std::vector<Step>, std::string>>& out) {
  out.emplace_back(steps, path);
  const auto* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* fd : fields) {
    if (fd->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    std::string name = path.empty() ? fd->name() : path + "." + fd->name();
    int n = fd->is_repeated() ? r->FieldSize(m, fd) : 1;
    for (int i = 0; i < n; ++i) {
      steps.push_back({fd, fd->is_repeated() ? i : -1});
      const auto& sub = fd->is_repeated() ? r->GetRepeatedMessage(m, fd, i) : r->GetMessage(m, fd);
      CollectMessages(sub, steps, fd->is_repeated() ? name + "[" + std::to_string(i) + "]" : name,
                      out);
      steps.pop_back();
    }
  }
}

google::protobuf::Message* Navigate(google::protobuf::Message* m, const std::vector<Step>& steps) {
  for (const Step& s : steps) {
    const auto* r = m->GetReflection();
    m = s.index < 0 ? r->MutableMessage(m, s.field)
                    : r->MutableRepeatedMessage(m, s.field, s.index);
  }
  return m;
}

// Every valid example, with a second evidence entry on the flag so that a repeated message has an
// element past the first.
std::vector<Example> AllValidWithTwoEvidence() {
  std::vector<Example> all = AllValid();
  for (Example& ex : all) {
    if (ex.envelope.has_flag()) {
      v1::Evidence* ev = ex.envelope.mutable_flag()->add_evidence();
      ev->set_log_index(19);
      ev->set_event_id("claim-0002");
    }
  }
  return all;
}

TEST(CodecFastPath, UnknownFieldInEveryMessageIsRejected) {
  int cases = 0;
  for (const Example& ex : AllValidWithTwoEvidence()) {
    ASSERT_EQ(ValidateCode(ex.topic, ex.envelope), "") << ex.name;
    std::vector<std::pair<std::vector<Step>, std::string>> messages;
    std::vector<Step> steps;
    CollectMessages(ex.envelope, steps, "", messages);
    for (const auto& [where, path] : messages) {
      SCOPED_TRACE(ex.name + " at " + (path.empty() ? "envelope" : path));
      v1::Envelope e = ex.envelope;
      google::protobuf::Message* m = Navigate(&e, where);
      m->GetReflection()->MutableUnknownFields(m)->AddFixed32(1000, 7);
      // Validate() on the message as built, and Decode() of its bytes (the parser keeps the
      // unknown field where it was).
      auto v = Validate(ex.topic, e, Policy(), kNow);
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(v->reason_code, "UNKNOWN_FIELD");
      std::string expected = (path.empty() ? std::string("envelope") : path) +
                             " has field number 1000 (fixed32), which schema version 1 does not "
                             "define";
      EXPECT_EQ(v->message, expected);
      Rejection r = Rejected(ex.topic, Bin(e));
      EXPECT_EQ(r.reason_code, "UNKNOWN_FIELD");
      EXPECT_EQ(r.message, expected);
      ++cases;
    }
  }
  // Envelope, 2 timestamps and the payload in each of 10 examples, plus the payloads' own
  // timestamps (claims 2 x 2, visit 2, flag 2) and the flag's baseline and 2 evidence entries.
  EXPECT_EQ(cases, 10 * 4 + 4 + 2 + 2 + 1 + 2);
}

TEST(CodecFastPath, UnknownEnumNumberInEveryEnumFieldIsRejected) {
  int cases = 0;
  for (const Example& ex : AllValidWithTwoEvidence()) {
    std::vector<std::pair<std::vector<Step>, std::string>> messages;
    std::vector<Step> steps;
    CollectMessages(ex.envelope, steps, "", messages);
    for (const auto& [where, path] : messages) {
      v1::Envelope probe = ex.envelope;
      const google::protobuf::Descriptor* d = Navigate(&probe, where)->GetDescriptor();
      for (int f = 0; f < d->field_count(); ++f) {
        const google::protobuf::FieldDescriptor* fd = d->field(f);
        if (fd->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_ENUM) continue;
        std::string field = path.empty() ? fd->name() : path + "." + fd->name();
        SCOPED_TRACE(ex.name + " at " + field);
        v1::Envelope e = ex.envelope;
        google::protobuf::Message* m = Navigate(&e, where);
        if (fd->is_repeated()) {
          m->GetReflection()->AddEnumValue(m, fd, 999);
        } else {
          m->GetReflection()->SetEnumValue(m, fd, 999);
        }
        std::string expected = field + " 999 is not a known " + fd->enum_type()->name() + " value";
        Rejection bin = Rejected(ex.topic, Bin(e));
        EXPECT_EQ(bin.reason_code, "UNKNOWN_ENUM_VALUE");
        EXPECT_EQ(bin.message, expected);
        // The JSON mapping writes an unknown enum number as a number, which the parser keeps.
        std::string json = ToJson(e);
        ASSERT_THAT(json, HasSubstr("\"" + fd->name() + "\":999"));
        Rejection js = Rejected(ex.topic, json, "application/json");
        EXPECT_EQ(js.reason_code, "UNKNOWN_ENUM_VALUE");
        EXPECT_EQ(js.message, expected);
        ++cases;
      }
    }
  }
  // kind in each of 10 examples; stream, status (x2 claims), priority, mode, attendance, type,
  // outcome, contract_type, rurality, severity, outcome, action and stream (payment
  // instruction). (The schema has no repeated enum field; the loop above would cover one.)
  EXPECT_EQ(cases, 10 + 2 * 2 + 1 + 2 + 2 + 2 + 1 + 1 + 1 + 1);
}

TEST(CodecFastPath, DeepAndRepeatedUnknownFieldsInBothEncodings) {
  // Binary: an unknown field inside the claim's period_start (a Timestamp two levels down),
  // written by hand on the wire.
  {
    v1::Envelope e = ValidClaim();
    std::string ts = e.claim().period_start().SerializeAsString() + std::string("\x18\x01", 2);
    v1::Claim c = e.claim();
    c.clear_period_start();
    std::string claim =
        std::string("\x2a") + static_cast<char>(ts.size()) + ts + c.SerializeAsString();
    e.clear_claim();
    std::string bytes = Bin(e) + "\x52" + static_cast<char>(claim.size()) + claim;
    Rejection r = Rejected(bus::kClaimsTopic, bytes);
    EXPECT_EQ(r.reason_code, "UNKNOWN_FIELD");
    EXPECT_THAT(r.message, HasSubstr("claim.period_start has field number 3 (varint)"));
  }
  // Binary: an unknown field in the second element of the flag's repeated evidence.
  {
    v1::Envelope e = ValidFlag();
    v1::Evidence* ev = e.mutable_flag()->add_evidence();
    ev->set_event_id("claim-0002");
    ev->GetReflection()->MutableUnknownFields(ev)->AddLengthDelimited(9, "x");
    Rejection r = Rejected(bus::kFlagsTopic, Bin(e));
    EXPECT_EQ(r.reason_code, "UNKNOWN_FIELD");
    EXPECT_EQ(r.message,
              "flag.evidence[1] has field number 9 (length-delimited), which schema version 1 "
              "does not define");
  }
  // JSON: the same places; the JSON parser names the field.
  {
    std::string json = ToJson(ValidFlag());
    size_t at = json.find("\"event_id\":\"claim-0001\"");
    ASSERT_NE(at, std::string::npos);
    std::string bad = json.substr(0, at) + "\"colour\":\"blue\"," + json.substr(at);
    Rejection r = Rejected(bus::kFlagsTopic, bad, "application/json");
    EXPECT_EQ(r.reason_code, "UNKNOWN_FIELD");
    EXPECT_THAT(r.message, HasSubstr("colour"));
    std::string peers = "\"peers\":\"40\"";
    at = json.find(peers);
    ASSERT_NE(at, std::string::npos);
    bad = json.substr(0, at) + "\"peerz\":1," + json.substr(at);
    r = Rejected(bus::kFlagsTopic, bad, "application/json");
    EXPECT_EQ(r.reason_code, "UNKNOWN_FIELD");
    EXPECT_THAT(r.message, HasSubstr("peerz"));
  }
  // JSON: an unknown enum name inside the payload.
  {
    std::string json = ToJson(ValidClaim());
    std::string stream = "PAYMENT_STREAM_ITEM_OF_SERVICE";
    size_t at = json.find(stream);
    ASSERT_NE(at, std::string::npos);
    std::string bad =
        json.substr(0, at) + "PAYMENT_STREAM_LOTTERY" + json.substr(at + stream.size());
    Rejection r = Rejected(bus::kClaimsTopic, bad, "application/json");
    EXPECT_EQ(r.reason_code, "UNKNOWN_ENUM_VALUE");
    EXPECT_THAT(r.message, HasSubstr("PAYMENT_STREAM_LOTTERY"));
  }
}

TEST(CodecFastPath, FirstProblemIsReportedInFieldOrder) {
  // Several problems at once: the reason names the first in the reference order (the message's
  // own unknown fields, then its fields by number, depth first), as before the fast check.
  v1::Envelope e = ValidClaim();
  SetEnumByNumber(e.mutable_claim(), "stream", 99);  // field 10 . 2
  auto* rec = e.mutable_recorded_at();               // field 6
  rec->GetReflection()->MutableUnknownFields(rec)->AddVarint(4, 1);
  EXPECT_EQ(Validate(bus::kClaimsTopic, e, Policy(), kNow)->message,
            "recorded_at has field number 4 (varint), which schema version 1 does not define");
  SetEnumByNumber(&e, "kind", 77);  // field 2, before recorded_at
  EXPECT_EQ(Validate(bus::kClaimsTopic, e, Policy(), kNow)->message,
            "kind 77 is not a known EventKind value");
  e.GetReflection()->MutableUnknownFields(&e)->AddVarint(50, 1);  // the envelope's own
  EXPECT_THAT(Validate(bus::kClaimsTopic, e, Policy(), kNow)->message,
              HasSubstr("envelope has field number 50"));
}

// JsonToEnvelope must give exactly what protobuf's JsonStringToMessage gives, for good and bad
// input, strict and lenient.
TEST(CodecFastPath, CachedJsonParseMatchesJsonStringToMessage) {
  std::vector<std::string> inputs;
  for (const Example& ex : AllValidWithTwoEvidence()) inputs.push_back(ToJson(ex.envelope));
  for (const ReasonCase& c : ReasonCases()) {
    if (c.header == "application/json") inputs.push_back(c.value);
  }
  inputs.push_back(ReadFile(kTestData / "example_claim.json"));
  inputs.push_back(R"({"eventId":"c-1","kind":3,"claim":{"periodStart":"2024-04-01T00:00:00Z"}})");
  inputs.push_back(R"({"event_id":"e","claim":{"stream":"NOPE"}})");
  inputs.push_back(R"({"event_id":"e","claim":{"quantity":"1.5"}})");
  inputs.push_back(R"({"event_id":"e","occurred_at":"not a time"})");
  inputs.push_back(R"({"event_id":"e","flag":{"evidence":[{"x":1}]}})");
  inputs.push_back(R"({"event_id":"e","claim":{},"referral":{}})");
  inputs.push_back("[1,2]");
  inputs.push_back("");
  // Every prefix of a valid claim: truncated JSON of every shape.
  std::string full = ToJson(ValidFlag());
  for (size_t n = 0; n < full.size(); n += 7) inputs.push_back(full.substr(0, n));
  for (bool lenient : {false, true}) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = lenient;
    for (const std::string& in : inputs) {
      SCOPED_TRACE(in + (lenient ? " (lenient)" : " (strict)"));
      v1::Envelope want, got;
      auto want_st = google::protobuf::util::JsonStringToMessage(in, &want, options);
      auto got_st = internal::JsonToEnvelope(in, &got, options);
      EXPECT_EQ(got_st.ok(), want_st.ok());
      EXPECT_EQ(got_st.ToString(), want_st.ToString());
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString());
    }
  }
}

}  // namespace
}  // namespace probity::codec

namespace probity::codec {
namespace {

TEST(ShortKindNameTest, ShortNamesRoundTripAndBadNamesAreRefused) {
  EXPECT_EQ(ShortKindName(v1::EVENT_KIND_CLAIM), "claim");
  EXPECT_EQ(ShortKindName(v1::EVENT_KIND_PATIENT_CONTACT), "patient_contact");
  EXPECT_EQ(ShortKindName(v1::EVENT_KIND_UNSPECIFIED), "unknown");
  EXPECT_EQ(ShortKindName(static_cast<v1::EventKind>(999)), "unknown");
  for (int k = 1; k < v1::EventKind_ARRAYSIZE; ++k) {
    if (!v1::EventKind_IsValid(k)) continue;
    const auto kind = static_cast<v1::EventKind>(k);
    EXPECT_EQ(ParseKind(ShortKindName(kind)), kind) << k;
    EXPECT_EQ(ParseKind(v1::EventKind_Name(kind)), kind) << k;
  }
  EXPECT_EQ(ParseKind("Referral"), v1::EVENT_KIND_REFERRAL);
  EXPECT_EQ(ParseKind("unspecified"), std::nullopt);
  EXPECT_EQ(ParseKind("unknown"), std::nullopt);
  EXPECT_EQ(ParseKind(""), std::nullopt);
  EXPECT_EQ(ParseKind("claims"), std::nullopt);
}

}  // namespace
}  // namespace probity::codec
