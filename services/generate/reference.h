// The reference practice register: NHS Payments to General Practice, England, 2022-23
// (deploy/reference/, Open Government Licence v3.0). Parsing only; no generation here.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "probity/v1/events.pb.h"

namespace probity::generate {

// The repository's copy of the CSV: PROBITY_SOURCE_DIR "/deploy/reference/...". The path is fixed
// at build time (a compile definition of probity_generate); callers use it as the default.
const char* DefaultReferenceCsvPath();

// How a payment column is paid out over a financial year (April to March).
enum class Schedule {
  kMonthly,     // 12 monthly claims
  kQuarterly,   // 4 quarterly claims (Apr-Jun, Jul-Sep, Oct-Dec, Jan-Mar)
  kFluSeason,   // monthly claims September to March
  kQof,         // 70% aspiration in 12 monthly claims, 30% achievement in per-indicator claims
  kPerPatient,  // one claim per patient (learning-disability health checks)
};

// One payment column of the CSV and how the generator turns it into claims.
struct PaymentColumn {
  const char* csv_name;  // exact header in the CSV
  v1::PaymentStream stream;
  const char* service_code;  // Claim.service_code
  Schedule schedule;
  int64_t unit_price_pence;  // > 0: claims are items at this price (quantity * price); 0: lump sums
};

inline constexpr int kNumPaymentColumns = 18;
// The payment columns in scope, in a fixed order (PracticeRecord::payments_pence is indexed by
// it). Other CSV columns (seniority, dispensing, drugs, PCN, covid...) are not claims and are not
// generated; docs/generator.md lists the mapping.
const std::array<PaymentColumn, kNumPaymentColumns>& PaymentColumns();
// Index of a column by service code, or -1.
int PaymentColumnIndex(std::string_view service_code);

struct PracticeRecord {
  std::string region_code;    // "NHS England (Region) code", e.g. "Y63"
  std::string sub_icb_code;   // "CCG Code", the sub-ICB location, e.g. "16C"
  std::string icb_name;       // "Sub ICB NAME" without its " - 16C" suffix
  std::string icb_code;       // IcbCodeFromName(icb_name), e.g. "NENC"
  std::string pcn_code;       // "Code", e.g. "U89141"
  std::string practice_code;  // ODS code, e.g. "A81001"
  std::string practice_name;
  std::string close_date;                                          // "dd/mm/yyyy" or empty
  v1::ContractType contract_type = v1::CONTRACT_TYPE_UNSPECIFIED;  // "Unknown" stays unspecified
  bool dispensing = false;                                         // "Yes"
  v1::Rurality rurality = v1::RURALITY_UNSPECIFIED;
  double list_size = 0;  // registered patients (last known figure; may be fractional)
  double weighted_list_size = 0;
  std::array<int64_t, kNumPaymentColumns> payments_pence{};  // annual, 2022-23, may be negative
};

// Splits CSV text into rows of fields (RFC 4180: quoted fields may hold commas, doubled quotes
// and line breaks; CRLF or LF line ends; a leading UTF-8 BOM is dropped). Returns
// InvalidArgument for an unterminated quote. Blank lines are skipped.
StatusOr<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text);

// Parses a money amount in pounds ("438099.78", "-84342.76", "0", "") into pence, exactly for up
// to two decimals (more are rounded half away from zero). Empty is 0.
StatusOr<int64_t> ParsePence(std::string_view pounds);

// A short ICB code derived from the ICB name, because the CSV carries the ICB only as a name
// ("NHS NORTH EAST AND NORTH CUMBRIA ICB"): drop "NHS " and " ICB", split on spaces, commas and
// hyphens, drop AND / OF / THE, and take the initials ("NENC"); a one-word name gives its first
// three letters ("DEVON" -> "DEV"). Distinct for the 42 ICBs of the 2022-23 file.
std::string IcbCodeFromName(std::string_view icb_name);

// Parses the whole register. Columns are found by header name; "Practice Code" and the two list
// size columns are required, any other missing column reads as empty / zero. Returns every row
// (including closed and empty practices; see IsActivePractice). InvalidArgument on a malformed
// number or a missing required column; the error names the row and column.
StatusOr<std::vector<PracticeRecord>> ParseReference(std::string_view csv_text);
// Reads and parses a file. IoError when it cannot be read.
StatusOr<std::vector<PracticeRecord>> LoadReference(const std::string& path);

// The generator's notion of a live practice: an ODS-shaped code (a letter and five digits), at
// least one registered and one weighted patient, and no close date. Others are skipped entirely
// (the 2022-23 file has 206 rows with 0 patients, 4 closed rows with patients).
bool IsActivePractice(const PracticeRecord& record);

}  // namespace probity::generate
