#include "services/payments/export.h"

#include <cstdio>
#include <set>

#include "common/crypto/sha256.h"
#include "common/follow/entry_source.h"
#include "common/time/proto_time.h"

namespace probity::payments {
namespace {

// RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled.
void Field(std::string* out, std::string_view f, bool last = false) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(f);
  } else {
    out->push_back('"');
    for (char c : f) {
      if (c == '"') out->push_back('"');
      out->push_back(c);
    }
    out->push_back('"');
  }
  out->append(last ? "\r\n" : ",");
}

std::string Pounds(int64_t pence) {
  char b[40];
  const bool neg = pence < 0;
  const uint64_t p = neg ? 0 - static_cast<uint64_t>(pence) : static_cast<uint64_t>(pence);
  std::snprintf(b, sizeof(b), "%s%llu.%02llu", neg ? "-" : "",
                static_cast<unsigned long long>(p / 100), static_cast<unsigned long long>(p % 100));
  return b;
}

std::string Action(v1::PaymentAction a) {
  std::string n = v1::PaymentAction_Name(a);
  return n.rfind("PAYMENT_ACTION_", 0) == 0 ? n.substr(15) : n;
}

void Finish(ExportFile* f) { f->sha256_hex = crypto::Sha256Hex(f->content); }

}  // namespace

const char kVariationHeader[] =
    "practice_code,icb_code,paycode,stream,claim_id,payment_month,payment_date,action,amount,"
    "payment_effect,reason,instruction_id,supersedes_instruction_id,flag_id,log_index\r\n";
const char kHoldsHeader[] =
    "record_type,hold_name,hold_reason,held_by,release_name,release_reason,released_by,"
    "practice_code,claim_id,amount,payment_date,instruction_id,log_index\r\n";

Export BuildExport(const std::vector<LoggedInstruction>& instructions, const std::string& date,
                   const std::string& since, uint64_t covers_tree_size) {
  Export e;
  e.date = date;
  e.covers_tree_size = covers_tree_size;
  const std::string from = since.empty() ? date : since;
  const std::string suffix = (from == date ? date : from + "-to-" + date) + "-size-" +
                             std::to_string(covers_tree_size) + ".csv";
  e.variation = {"contract-variation-csv/1", "contract-variation-" + suffix, kVariationHeader, 0,
                 ""};
  e.holds = {"holds-csv/1", "holds-" + suffix, kHoldsHeader, 0, ""};
  std::set<std::string> seen;
  for (const LoggedInstruction& li : instructions) {
    const v1::PaymentInstruction& i = li.instruction;
    if (i.payment_date() < from || i.payment_date() > date) continue;
    if (!seen.insert(i.instruction_id()).second) continue;
    e.policy_version = i.policy_version();
    const std::string action = Action(i.action());
    const std::string index = std::to_string(li.index);
    const std::string stream = [&] {
      std::string n = v1::PaymentStream_Name(i.stream());
      return n.rfind("PAYMENT_STREAM_", 0) == 0 ? n.substr(15) : n;
    }();
    int64_t effect = 0;
    if (i.action() == v1::PAYMENT_ACTION_APPROVE || i.action() == v1::PAYMENT_ACTION_RELEASE)
      effect = i.amount_pence();
    if (i.action() == v1::PAYMENT_ACTION_REVERSE) effect = -i.amount_pence();
    if (i.action() != v1::PAYMENT_ACTION_HOLD) {
      std::string* o = &e.variation.content;
      Field(o, li.practice_code);
      Field(o, i.icb_code());
      Field(o, i.paycode());
      Field(o, stream);
      Field(o, i.claim_id());
      Field(o, i.payment_date().substr(0, 7));
      Field(o, i.payment_date());
      Field(o, action);
      Field(o, Pounds(i.amount_pence()));
      Field(o, Pounds(effect));
      Field(o, i.reason());
      Field(o, i.instruction_id());
      Field(o, i.supersedes_instruction_id());
      Field(o, i.flag_id());
      Field(o, index, true);
      ++e.variation.rows;
    }
    const bool hold = i.action() == v1::PAYMENT_ACTION_HOLD;
    const bool closes =
        i.action() == v1::PAYMENT_ACTION_RELEASE || i.action() == v1::PAYMENT_ACTION_WITHHOLD;
    if (hold || closes) {
      std::string* o = &e.holds.content;
      const std::string by = "probity-payments (" + i.policy_version() + ")";
      Field(o, hold ? "HOLD" : "RELEASE");
      Field(o, hold ? "PROBITY FLAG " + i.flag_id().substr(0, 12) : "");
      Field(o, hold ? i.reason() : "");
      Field(o, hold ? by : "");
      Field(o, hold ? ""
                    : (i.action() == v1::PAYMENT_ACTION_RELEASE ? "PROBITY DISMISSED"
                                                                : "PROBITY UPHELD"));
      Field(o, hold ? "" : i.reason());
      Field(o, hold ? "" : by);
      Field(o, li.practice_code);
      Field(o, i.claim_id());
      Field(o, Pounds(i.amount_pence()));
      Field(o, i.payment_date());
      Field(o, i.instruction_id());
      Field(o, index, true);
      ++e.holds.rows;
    }
  }
  Finish(&e.variation);
  Finish(&e.holds);
  return e;
}

StatusOr<Export> ExportFromLog(const logstore::LogReader& log, const std::string& date,
                               const std::string& since, uint64_t size, int64_t* log_time_micros) {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, log.TreeSize());
  if (size == 0) size = tree_size;
  if (size > tree_size) {
    return OutOfRange("the log has " + std::to_string(tree_size) + " entries, fewer than " +
                      std::to_string(size));
  }
  std::vector<LoggedInstruction> instructions;
  v1::LogRecord record;
  for (uint64_t from = 0; from < size;) {
    PROBITY_ASSIGN_OR_RETURN(std::vector<uint64_t> page,
                             log.FindByKind(v1::EVENT_KIND_PAYMENT_INSTRUCTION, from, 100000));
    if (page.empty()) break;
    for (uint64_t index : page) {
      if (index >= size) break;
      PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, log.Get(index));
      if (!record.ParseFromString(e.record_bytes))
        return DataLoss("entry " + std::to_string(index) + " does not parse as a LogRecord");
      PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(record));
      LoggedInstruction li;
      li.index = index;
      li.practice_code = env.practice_code();
      li.instruction = std::move(*env.mutable_payment_instruction());
      instructions.push_back(std::move(li));
    }
    if (page.back() >= size) break;
    from = page.back() + 1;
  }
  if (log_time_micros != nullptr) {
    *log_time_micros = 0;
    if (size > 0) {
      PROBITY_ASSIGN_OR_RETURN(logstore::Entry last, log.Get(size - 1));
      if (record.ParseFromString(last.record_bytes))
        *log_time_micros = FromTimestamp(record.received_at());
    }
  }
  return BuildExport(instructions, date, since, size);
}

v1::Envelope MakeExportEnvelope(const Export& e, const ExportFile& file, int64_t log_time_micros) {
  v1::Envelope env;
  env.set_event_id("export-" + file.sha256_hex);
  env.set_kind(v1::EVENT_KIND_PAYMENT_EXPORT);
  env.set_schema_version(1);
  env.set_source_system("probity-payments");
  SetTimestamp(env.mutable_occurred_at(), log_time_micros);
  *env.mutable_recorded_at() = env.occurred_at();
  auto* x = env.mutable_payment_export();
  x->set_export_date(e.date);
  x->set_format(file.format);
  x->set_file_name(file.file_name);
  x->set_sha256_hex(file.sha256_hex);
  x->set_covers_tree_size(e.covers_tree_size);
  x->set_rows(file.rows);
  x->set_policy_version(e.policy_version);
  return env;
}

}  // namespace probity::payments
