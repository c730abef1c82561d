#include "services/generate/reference.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace probity::generate {

#ifndef PROBITY_SOURCE_DIR
#error "PROBITY_SOURCE_DIR must be defined by services/generate/CMakeLists.txt"
#endif

const char* DefaultReferenceCsvPath() {
  return PROBITY_SOURCE_DIR "/deploy/reference/nhs_payments_to_general_practice_2022_23.csv";
}

const std::array<PaymentColumn, kNumPaymentColumns>& PaymentColumns() {
  using v1::PaymentStream;
  static const std::array<PaymentColumn, kNumPaymentColumns> kColumns = {{
      {"Global Sum", v1::PAYMENT_STREAM_GLOBAL_SUM, "GSUM", Schedule::kMonthly, 0},
      {"MPIG Correction factor", v1::PAYMENT_STREAM_GLOBAL_SUM, "MPIG", Schedule::kMonthly, 0},
      {"Balance of PMS Expenditure", v1::PAYMENT_STREAM_GLOBAL_SUM, "PMSBAL", Schedule::kMonthly,
       0},
      {"Total QOF Payments", v1::PAYMENT_STREAM_QOF_ACHIEVEMENT, "QOF", Schedule::kQof, 0},
      {"Childhood Vaccination and Immunisation Scheme", v1::PAYMENT_STREAM_ENHANCED_SERVICE,
       "CHILDIMMS", Schedule::kMonthly, 1006},
      {"GP Extended Hours Access", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "EXTHRS",
       Schedule::kMonthly, 0},
      {"Influenza and Pneumococcal Immunisations", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "FLU",
       Schedule::kFluSeason, 1006},
      {"Learning Disabilities", v1::PAYMENT_STREAM_ITEM_OF_SERVICE, "LDHC", Schedule::kPerPatient,
       14000},
      {"Meningitis", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "MENACWY", Schedule::kMonthly, 1006},
      {"Minor Surgery", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "MINSURG", Schedule::kQuarterly, 0},
      {"Out Of Area in Hours Urgent Care", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "OOAUC",
       Schedule::kQuarterly, 0},
      {"Pertussis", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "PERTUSSIS", Schedule::kMonthly, 1006},
      {"Rotavirus and Shingles Immunisation", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "ROTASHING",
       Schedule::kMonthly, 1006},
      {"Services for Violent Patients", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "VIOLENT",
       Schedule::kQuarterly, 0},
      {"Medical Assessment Reviews", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "MAR",
       Schedule::kQuarterly, 0},
      {"Weight Management Service", v1::PAYMENT_STREAM_ENHANCED_SERVICE, "WEIGHTMGT",
       Schedule::kQuarterly, 0},
      {"Local Incentive Schemes", v1::PAYMENT_STREAM_LOCAL_INCENTIVE, "LIS", Schedule::kQuarterly,
       0},
      {"Premises Payments", v1::PAYMENT_STREAM_PREMISES, "PREMISES", Schedule::kMonthly, 0},
  }};
  return kColumns;
}

int PaymentColumnIndex(std::string_view service_code) {
  const auto& cols = PaymentColumns();
  for (int i = 0; i < kNumPaymentColumns; ++i) {
    if (service_code == cols[i].service_code) return i;
  }
  return -1;
}

StatusOr<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    text.remove_prefix(3);
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false;
  bool field_started = false;  // the row has content (so a blank line is not a row)
  size_t line = 1;
  auto end_row = [&]() {
    if (field_started || !row.empty()) {
      row.push_back(std::move(field));
      rows.push_back(std::move(row));
    }
    row.clear();
    field.clear();
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        field_started = true;
        break;
      case ',':
        row.push_back(std::move(field));
        field.clear();
        field_started = true;
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;  // CRLF: the LF ends the row
        end_row();
        ++line;
        break;
      case '\n':
        end_row();
        ++line;
        break;
      default:
        field.push_back(c);
        field_started = true;
    }
  }
  if (in_quotes) {
    return InvalidArgument("csv: unterminated quoted field at end of input (line " +
                           std::to_string(line) + ")");
  }
  end_row();
  return rows;
}

StatusOr<int64_t> ParsePence(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return int64_t{0};
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    i = 1;
  }
  int64_t whole = 0;
  int digits = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
    if (whole > 100'000'000'000'000LL)
      return InvalidArgument("amount too large: " + std::string(s));
    whole = whole * 10 + (s[i] - '0');
  }
  int64_t frac = 0;
  int frac_digits = 0;
  bool round_up = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++frac_digits) {
      if (frac_digits < 2) {
        frac = frac * 10 + (s[i] - '0');
      } else if (frac_digits == 2) {
        round_up = s[i] >= '5';
      }
    }
  }
  if (i != s.size() || (digits == 0 && frac_digits == 0)) {
    return InvalidArgument("not an amount: \"" + std::string(s) + "\"");
  }
  if (frac_digits == 1) frac *= 10;
  int64_t pence = whole * 100 + frac + (round_up ? 1 : 0);
  return negative ? -pence : pence;
}

std::string IcbCodeFromName(std::string_view name) {
  std::string s(name);
  if (s.rfind("NHS ", 0) == 0) s.erase(0, 4);
  if (s.size() >= 4 && s.compare(s.size() - 4, 4, " ICB") == 0) s.erase(s.size() - 4);
  std::vector<std::string> words;
  std::string w;
  for (char c : s + " ") {
    if (c == ' ' || c == ',' || c == '-') {
      if (!w.empty() && w != "AND" && w != "OF" && w != "THE") words.push_back(w);
      w.clear();
    } else {
      w.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  // "Q" and the initials (ICB ODS codes start with Q), 3 to 6 characters: a valid organisation
  // code shape, though not the ICB's real ODS code (the register file does not carry it).
  if (words.empty()) return "QUNK";
  std::string code = "Q";
  if (words.size() == 1) return code + words[0].substr(0, 3);
  for (const auto& word : words) code.push_back(word[0]);
  if (code.size() < 3) code += words.back().substr(1, 3 - code.size());
  return code.substr(0, 6);
}

namespace {

StatusOr<double> ParseNumber(std::string_view s) {
  std::string t(s);
  if (t.empty()) return 0.0;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) {
    return InvalidArgument("not a number: \"" + t + "\"");
  }
  return v;
}

}  // namespace

StatusOr<std::vector<PracticeRecord>> ParseReference(std::string_view csv_text) {
  PROBITY_ASSIGN_OR_RETURN(auto rows, ParseCsv(csv_text));
  if (rows.empty()) return InvalidArgument("reference csv: empty");
  std::map<std::string, size_t> header;
  for (size_t i = 0; i < rows[0].size(); ++i) header.emplace(rows[0][i], i);
  auto col = [&](const std::string& name) -> int {
    auto it = header.find(name);
    return it == header.end() ? -1 : static_cast<int>(it->second);
  };
  const int c_code = col("Practice Code");
  const int c_list = col("Number of Registered Patients (Last Known Figure)");
  const int c_weighted = col("Number of Weighted Patients (Last Known Figure)");
  for (auto [c, n] : {std::pair{c_code, "Practice Code"},
                      std::pair{c_list, "Number of Registered Patients (Last Known Figure)"},
                      std::pair{c_weighted, "Number of Weighted Patients (Last Known Figure)"}}) {
    if (c < 0) return InvalidArgument(std::string("reference csv: missing column \"") + n + "\"");
  }
  const int c_region = col("NHS England (Region) code");
  const int c_sub_icb = col("CCG Code");
  const int c_icb_name = col("Sub ICB NAME");
  const int c_pcn = col("Code");
  const int c_name = col("Practice Name");
  const int c_close = col("Practice Close Date");
  const int c_contract = col("Contract Type");
  const int c_dispensing = col("Dispensing Practice");
  const int c_rurality = col("Practice Rurality");
  std::array<int, kNumPaymentColumns> c_pay;
  for (int i = 0; i < kNumPaymentColumns; ++i) c_pay[i] = col(PaymentColumns()[i].csv_name);

  std::vector<PracticeRecord> out;
  out.reserve(rows.size() - 1);
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    auto get = [&](int c) -> std::string {
      return c >= 0 && c < static_cast<int>(row.size()) ? row[c] : "";
    };
    auto where = [&](const char* what) {
      return "reference csv row " + std::to_string(r + 1) + " (" + get(c_code) + "), " + what +
             ": ";
    };
    PracticeRecord p;
    p.practice_code = get(c_code);
    p.region_code = get(c_region);
    p.sub_icb_code = get(c_sub_icb);
    std::string icb = get(c_icb_name);
    if (size_t dash = icb.rfind(" - "); dash != std::string::npos) icb.erase(dash);
    p.icb_name = icb;
    p.icb_code = icb.empty() ? "" : IcbCodeFromName(icb);
    p.pcn_code = get(c_pcn);
    p.practice_name = get(c_name);
    p.close_date = get(c_close);
    const std::string contract = get(c_contract);
    p.contract_type = contract == "GMS"    ? v1::CONTRACT_TYPE_GMS
                      : contract == "PMS"  ? v1::CONTRACT_TYPE_PMS
                      : contract == "APMS" ? v1::CONTRACT_TYPE_APMS
                                           : v1::CONTRACT_TYPE_UNSPECIFIED;
    p.dispensing = get(c_dispensing) == "Yes";
    const std::string rural = get(c_rurality);
    p.rurality = rural == "Urban"   ? v1::RURALITY_URBAN
                 : rural == "Rural" ? v1::RURALITY_RURAL
                                    : v1::RURALITY_UNSPECIFIED;
    auto list = ParseNumber(get(c_list));
    if (!list.ok()) return InvalidArgument(where("list size") + list.status().message());
    p.list_size = *list;
    auto weighted = ParseNumber(get(c_weighted));
    if (!weighted.ok())
      return InvalidArgument(where("weighted list size") + weighted.status().message());
    p.weighted_list_size = *weighted;
    for (int i = 0; i < kNumPaymentColumns; ++i) {
      auto pence = ParsePence(get(c_pay[i]));
      if (!pence.ok())
        return InvalidArgument(where(PaymentColumns()[i].csv_name) + pence.status().message());
      p.payments_pence[i] = *pence;
    }
    out.push_back(std::move(p));
  }
  // The derived ICB codes must not collide (they do not for the 2022-23 file).
  std::map<std::string, std::string> code_to_name;
  for (const auto& p : out) {
    if (p.icb_code.empty()) continue;
    auto [it, inserted] = code_to_name.emplace(p.icb_code, p.icb_name);
    if (!inserted && it->second != p.icb_name) {
      return InvalidArgument("reference csv: ICB names \"" + it->second + "\" and \"" + p.icb_name +
                             "\" derive the same code " + p.icb_code);
    }
  }
  return out;
}

StatusOr<std::vector<PracticeRecord>> LoadReference(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open reference csv " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("cannot read reference csv " + path);
  return ParseReference(ss.str());
}

bool IsActivePractice(const PracticeRecord& p) {
  const std::string& c = p.practice_code;
  if (c.size() != 6 || !std::isupper(static_cast<unsigned char>(c[0]))) return false;
  for (size_t i = 1; i < 6; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(c[i]))) return false;
  }
  return p.list_size >= 1 && p.weighted_list_size >= 1 && p.close_date.empty();
}

}  // namespace probity::generate
