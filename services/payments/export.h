// Exports for the payment process (docs/payments.md, "Exports"): a pure function of the payment
// instructions in a log prefix, so that anyone holding the log can rebuild a file byte for byte
// and check it against the SHA-256 logged for it (PaymentExport).
//
// Two files per payment run D (YYYY-MM-DD), over the instructions whose payment_date is in
// [since, D] (since defaults to D), in log order:
//  - contract-variation CSV (format "contract-variation-csv/1"): one row per APPROVE, RELEASE,
//    WITHHOLD and REVERSE, with the signed effect on what is paid;
//  - hold/release CSV (format "holds-csv/1"): one row per HOLD (hold name, reason, held by), and
//    one per RELEASE or WITHHOLD closing a hold (release name, reason, released by).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "probity/v1/events.pb.h"

namespace probity::payments {

// One PAYMENT_INSTRUCTION entry of the log.
struct LoggedInstruction {
  uint64_t index = 0;
  std::string practice_code;
  v1::PaymentInstruction instruction;
};

struct ExportFile {
  std::string format;     // "contract-variation-csv/1" or "holds-csv/1"
  std::string file_name;  // e.g. "contract-variation-2023-05-01-size-1234.csv"
  std::string content;
  uint64_t rows = 0;
  std::string sha256_hex;
};

struct Export {
  std::string date;
  uint64_t covers_tree_size = 0;
  std::string policy_version;  // of the latest instruction included ("" when none)
  ExportFile variation;
  ExportFile holds;
};

// Column headers, exactly as written (docs/payments.md explains each column).
extern const char kVariationHeader[];
extern const char kHoldsHeader[];

// Writes an export one instruction at a time, in log order: the two files grow as instructions
// are added; nothing else of an instruction is kept but its id (an id seen twice is written once,
// at its first entry).
class ExportWriter {
 public:
  // `expected`: how many instructions are likely (reserves room; 0 when unknown).
  ExportWriter(const std::string& date, const std::string& since, uint64_t covers_tree_size,
               size_t expected = 0);
  ~ExportWriter();
  // REQUIRES: log_index increasing from call to call, below covers_tree_size.
  void Add(uint64_t log_index, std::string_view practice_code,
           const v1::PaymentInstruction& instruction);
  Export Finish() &&;

 private:
  struct Names;
  std::string from_;
  Export e_;
  // Instruction ids written so far: views into ids_, whose chunks never move (a year's export
  // holds a million ids; one allocation each would be a million more).
  std::unordered_set<std::string_view> seen_;
  std::vector<std::unique_ptr<char[]>> ids_;
  size_t ids_used_ = 0, ids_cap_ = 0;  // of ids_.back()
  std::string by_;                     // "probity-payments (<policy>)" of the latest policy seen
  std::unique_ptr<Names> names_;
};

// REQUIRES: `instructions` in increasing index order, all below covers_tree_size. An instruction
// id seen twice is written once (its first entry).
Export BuildExport(const std::vector<LoggedInstruction>& instructions, const std::string& date,
                   const std::string& since, uint64_t covers_tree_size);

// The export of the log's first `size` entries (the whole committed log when size is 0): reads
// every PAYMENT_INSTRUCTION entry below it. *log_time_micros (optional) receives the received_at
// of the last entry covered, for MakeExportEnvelope. `keep` (optional) leaves out the
// instructions it refuses (the api's scoped export: not the file the payment team logs).
// OutOfRange when size exceeds the log; DataLoss when an entry does not parse.
StatusOr<Export> ExportFromLog(const logstore::LogReader& log, const std::string& date,
                               const std::string& since, uint64_t size,
                               int64_t* log_time_micros = nullptr,
                               const std::function<bool(const LoggedInstruction&)>& keep = nullptr);

// The PaymentExport envelope that logs `file` (event id "export-<sha256>", occurred_at =
// `log_time_micros`, the received_at of the last entry the export covers, so that exporting the
// same prefix again logs nothing new).
v1::Envelope MakeExportEnvelope(const Export& e, const ExportFile& file, int64_t log_time_micros);

}  // namespace probity::payments
