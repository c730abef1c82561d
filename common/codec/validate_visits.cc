#include "common/codec/field_checks.h"
#include "common/codec/reason_codes.h"
#include "common/codec/validate_payloads.h"

namespace probity::codec::internal {

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

}  // namespace probity::codec::internal
