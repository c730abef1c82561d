#include "services/payments/export.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <unordered_set>

#include "common/crypto/sha256.h"
#include "common/follow/entry_source.h"
#include "common/time/proto_time.h"
#include "services/payments/payments.h"

namespace probity::payments {
namespace {

// RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled.
void Field(std::string* out, std::string_view f, bool last = false) {
  bool plain = true;
  for (char c : f) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      plain = false;
      break;
    }
  }
  if (plain) {
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

// Pounds with two decimals ("-12.05") into `buf`; returns the text. No allocation: an export
// writes two a row.
std::string_view Pounds(int64_t pence, char (&buf)[32]) {
  const bool neg = pence < 0;
  uint64_t p = neg ? 0 - static_cast<uint64_t>(pence) : static_cast<uint64_t>(pence);
  char* end = buf + sizeof(buf);
  char* at = end;
  for (int digit = 0; digit < 2; ++digit, p /= 10) *--at = static_cast<char>('0' + p % 10);
  *--at = '.';
  do {
    *--at = static_cast<char>('0' + p % 10);
    p /= 10;
  } while (p > 0);
  if (neg) *--at = '-';
  return std::string_view(at, static_cast<size_t>(end - at));
}

// An enum value's name without its prefix, looked up once per value (an export names the same
// few streams and actions a million times).
class NameCache {
 public:
  explicit NameCache(std::function<std::string(int)> name) : name_(std::move(name)) {}
  std::string_view operator()(int v) {
    if (v < 0 || v >= 64) return Slow(v);
    if (static_cast<size_t>(v) >= names_.size()) names_.resize(static_cast<size_t>(v) + 1);
    auto& n = names_[static_cast<size_t>(v)];
    if (!n) n = name_(v);
    return *n;
  }

 private:
  std::string_view Slow(int v) { return other_.emplace(v, name_(v)).first->second; }
  std::function<std::string(int)> name_;
  std::vector<std::optional<std::string>> names_;
  std::map<int, std::string> other_;
};

void Seal(ExportFile* f) { f->sha256_hex = crypto::Sha256Hex(f->content); }

}  // namespace

const char kVariationHeader[] =
    "practice_code,icb_code,paycode,stream,claim_id,payment_month,payment_date,action,amount,"
    "payment_effect,reason,instruction_id,supersedes_instruction_id,flag_id,log_index\r\n";
const char kHoldsHeader[] =
    "record_type,hold_name,hold_reason,held_by,release_name,release_reason,released_by,"
    "practice_code,claim_id,amount,payment_date,instruction_id,log_index\r\n";

struct ExportWriter::Names {
  NameCache action{[](int a) { return ActionName(static_cast<v1::PaymentAction>(a)); }};
  NameCache stream{[](int v) {
    std::string n = v1::PaymentStream_Name(static_cast<v1::PaymentStream>(v));
    return n.rfind("PAYMENT_STREAM_", 0) == 0 ? n.substr(15) : n;
  }};
};

ExportWriter::ExportWriter(const std::string& date, const std::string& since,
                           uint64_t covers_tree_size, size_t expected)
    : from_(since.empty() ? date : since), names_(std::make_unique<Names>()) {
  e_.date = date;
  e_.covers_tree_size = covers_tree_size;
  const std::string suffix = (from_ == date ? date : from_ + "-to-" + date) + "-size-" +
                             std::to_string(covers_tree_size) + ".csv";
  e_.variation = {"contract-variation-csv/1", "contract-variation-" + suffix, kVariationHeader, 0,
                  ""};
  e_.holds = {"holds-csv/1", "holds-" + suffix, kHoldsHeader, 0, ""};
  seen_.reserve(expected);
  e_.variation.content.reserve(expected * 256);
}

ExportWriter::~ExportWriter() = default;

void ExportWriter::Add(uint64_t log_index, std::string_view practice_code,
                       const v1::PaymentInstruction& i) {
  if (i.payment_date() < from_ || i.payment_date() > e_.date) return;
  if (seen_.contains(i.instruction_id())) return;
  {
    const std::string& id = i.instruction_id();
    if (ids_.empty() || ids_cap_ - ids_used_ < id.size()) {
      ids_cap_ = std::max<size_t>(size_t{1} << 20, id.size());
      ids_.push_back(std::make_unique<char[]>(ids_cap_));
      ids_used_ = 0;
    }
    char* at = ids_.back().get() + ids_used_;
    std::memcpy(at, id.data(), id.size());
    ids_used_ += id.size();
    seen_.insert(std::string_view(at, id.size()));
  }
  if (e_.policy_version != i.policy_version()) {
    e_.policy_version = i.policy_version();
    by_ = "probity-payments (" + e_.policy_version + ")";
  }
  char amount_buf[32], effect_buf[32], index_buf[24];
  const std::string_view action = names_->action(i.action());
  const std::string_view index(
      index_buf,
      static_cast<size_t>(std::to_chars(index_buf, index_buf + sizeof(index_buf), log_index).ptr -
                          index_buf));
  const std::string_view amount = Pounds(i.amount_pence(), amount_buf);
  int64_t effect = 0;
  if (i.action() == v1::PAYMENT_ACTION_APPROVE || i.action() == v1::PAYMENT_ACTION_RELEASE)
    effect = i.amount_pence();
  if (i.action() == v1::PAYMENT_ACTION_REVERSE) effect = -i.amount_pence();
  if (i.action() != v1::PAYMENT_ACTION_HOLD) {
    std::string* o = &e_.variation.content;
    Field(o, practice_code);
    Field(o, i.icb_code());
    Field(o, i.paycode());
    Field(o, names_->stream(i.stream()));
    Field(o, i.claim_id());
    Field(o, std::string_view(i.payment_date()).substr(0, 7));
    Field(o, i.payment_date());
    Field(o, action);
    Field(o, amount);
    Field(o, Pounds(effect, effect_buf));
    Field(o, i.reason());
    Field(o, i.instruction_id());
    Field(o, i.supersedes_instruction_id());
    Field(o, i.flag_id());
    Field(o, index, true);
    ++e_.variation.rows;
  }
  const bool hold = i.action() == v1::PAYMENT_ACTION_HOLD;
  const bool closes =
      i.action() == v1::PAYMENT_ACTION_RELEASE || i.action() == v1::PAYMENT_ACTION_WITHHOLD;
  if (hold || closes) {
    std::string* o = &e_.holds.content;
    Field(o, hold ? "HOLD" : "RELEASE");
    Field(o, hold ? "PROBITY FLAG " + i.flag_id().substr(0, 12) : "");
    Field(o, hold ? std::string_view(i.reason()) : "");
    Field(o, hold ? std::string_view(by_) : "");
    Field(o, hold ? ""
                  : (i.action() == v1::PAYMENT_ACTION_RELEASE ? "PROBITY DISMISSED"
                                                              : "PROBITY UPHELD"));
    Field(o, hold ? "" : std::string_view(i.reason()));
    Field(o, hold ? "" : std::string_view(by_));
    Field(o, practice_code);
    Field(o, i.claim_id());
    Field(o, amount);
    Field(o, i.payment_date());
    Field(o, i.instruction_id());
    Field(o, index, true);
    ++e_.holds.rows;
  }
}

Export ExportWriter::Finish() && {
  Seal(&e_.variation);
  Seal(&e_.holds);
  return std::move(e_);
}

Export BuildExport(const std::vector<LoggedInstruction>& instructions, const std::string& date,
                   const std::string& since, uint64_t covers_tree_size) {
  ExportWriter w(date, since, covers_tree_size, instructions.size());
  for (const LoggedInstruction& li : instructions)
    w.Add(li.index, li.practice_code, li.instruction);
  return std::move(w).Finish();
}

StatusOr<Export> ExportFromLog(const logstore::LogReader& log, const std::string& date,
                               const std::string& since, uint64_t size, int64_t* log_time_micros,
                               const std::function<bool(const LoggedInstruction&)>& keep) {
  PROBITY_ASSIGN_OR_RETURN(uint64_t tree_size, log.TreeSize());
  if (size == 0) size = tree_size;
  if (size > tree_size) {
    return OutOfRange("the log has " + std::to_string(tree_size) + " entries, fewer than " +
                      std::to_string(size));
  }
  // Every instruction's index first (8 bytes each, from the kind index), so that the writer
  // reserves its room once.
  std::vector<uint64_t> indices;
  for (uint64_t from = 0; from < size;) {
    PROBITY_ASSIGN_OR_RETURN(std::vector<uint64_t> page,
                             log.FindByKind(v1::EVENT_KIND_PAYMENT_INSTRUCTION, from, 100000));
    if (page.empty()) break;
    for (uint64_t index : page) {
      if (index < size) indices.push_back(index);
    }
    if (page.back() >= size) break;
    from = page.back() + 1;
  }
  ExportWriter w(date, since, size, keep ? 0 : indices.size());
  v1::LogRecord record;
  auto env = std::make_unique<v1::Envelope>();
  LoggedInstruction li;  // for `keep` only
  constexpr size_t kPage = 20000;
  std::vector<uint64_t> page;
  for (size_t at = 0; at < indices.size(); at += kPage) {
    page.assign(
        indices.begin() + static_cast<std::ptrdiff_t>(at),
        indices.begin() + static_cast<std::ptrdiff_t>(std::min(indices.size(), at + kPage)));
    PROBITY_ASSIGN_OR_RETURN(std::vector<logstore::Entry> entries, log.GetMany(page));
    for (logstore::Entry& e : entries) {
      if (!record.ParseFromString(e.record_bytes))
        return DataLoss("entry " + std::to_string(e.index) + " does not parse as a LogRecord");
      // One envelope, reused: what an entry allocates is freed before the next one parses.
      PROBITY_RETURN_IF_ERROR(follow::DecodeRecordEnvelopeInto(record, env.get()));
      if (keep) {
        li.index = e.index;
        li.practice_code = env->practice_code();
        li.instruction = env->payment_instruction();
        if (!keep(li)) continue;
      }
      w.Add(e.index, env->practice_code(), env->payment_instruction());
    }
  }
  if (log_time_micros != nullptr) {
    *log_time_micros = 0;
    if (size > 0) {
      PROBITY_ASSIGN_OR_RETURN(logstore::Entry last, log.Get(size - 1));
      if (record.ParseFromString(last.record_bytes))
        *log_time_micros = FromTimestamp(record.received_at());
    }
  }
  return std::move(w).Finish();
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
