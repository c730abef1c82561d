#include "services/generate/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "services/generate/anomaly.h"

namespace probity::generate::internal {
namespace {

struct QofIndicator {
  const char* code;
  double max_points;
};
constexpr QofIndicator kQofIndicators[] = {
    {"AF006", 12},   {"AF008", 12},  {"AST007", 20}, {"AST008", 15},  {"BP002", 15},
    {"CAN005", 2},   {"CHD005", 7},  {"CHD015", 10}, {"CHD016", 4},   {"CKD005", 9},
    {"COPD008", 2},  {"COPD010", 9}, {"CS005", 7},   {"DEM004", 16},  {"DM006", 3},
    {"DM012", 4},    {"DM014", 11},  {"DM020", 17},  {"DM021", 10},   {"DM022", 4},
    {"DM023", 2},    {"HF003", 10},  {"HF006", 9},   {"HF007", 6},    {"HYP003", 14},
    {"HYP007", 5},   {"LD004", 4},   {"MH002", 6},   {"MH003", 4},    {"MH006", 4},
    {"MH011", 4},    {"MH012", 4},   {"NDH002", 18}, {"SMOK002", 25}, {"SMOK004", 12},
    {"SMOK005", 25}, {"STIA007", 4}, {"STIA014", 2}, {"STIA015", 3},
};
constexpr int kNumQof = sizeof(kQofIndicators) / sizeof(kQofIndicators[0]);
constexpr double QofTotalMax() {
  double t = 0;
  for (const auto& q : kQofIndicators) t += q.max_points;
  return t;
}
static_assert(QofTotalMax() <= 635, "QOF maximum points exceed the 635-point framework");

// Splits `total` into parts proportional to weights that sum exactly to total (largest
// remainder; ties to the lower index). REQUIRES: weights non-negative with a positive sum.
std::vector<int64_t> SplitExact(int64_t total, const std::vector<double>& weights) {
  const size_t n = weights.size();
  std::vector<int64_t> w(n);
  __int128 wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    w[i] = static_cast<int64_t>(std::llround(weights[i] * 1e6));
    wsum += w[i];
  }
  std::vector<int64_t> out(n, 0);
  if (wsum == 0 || n == 0) {
    if (n > 0) out[0] = total;
    return out;
  }
  const bool neg = total < 0;
  const __int128 t = neg ? -static_cast<__int128>(total) : total;
  std::vector<std::pair<__int128, size_t>> rems(n);
  __int128 assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    __int128 num = t * w[i];
    out[i] = static_cast<int64_t>(num / wsum);
    rems[i] = {num % wsum, i};
    assigned += out[i];
  }
  std::stable_sort(rems.begin(), rems.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < t; ++k, ++assigned) out[rems[k % n].second] += 1;
  if (neg) {
    for (auto& v : out) v = -v;
  }
  return out;
}

// The annual total of payment column c, after the practice's injection (if any) changed it.
int64_t ColumnTotal(const Practice& p, int c) {
  const int64_t v = p.rec.payments_pence[c];
  return p.injection != nullptr ? p.injection->ColumnTotal(c, v) : v;
}

std::string PatientRef(uint64_t seed, const std::string& practice, Micros fy, int64_t idx) {
  return "pt-" + Hex16(StableHash(practice + "/" + std::to_string(fy) + "/" + std::to_string(idx),
                                  seed ^ 0x70617469656e74ULL));
}

}  // namespace

FyPlan PlanFy(const Practice& p, Micros fy, uint64_t seed) {
  FyPlan plan;
  plan.fy_start = fy;
  Rng rng = Rng::ForStream(seed, p.rec.practice_code, Mix64(static_cast<uint64_t>(fy) ^ 0xF7));
  const auto& cols = PaymentColumns();
  auto month_start = [&](int mi) { return AddMonths(fy, mi); };
  for (int c = 0; c < kNumPaymentColumns; ++c) {
    const PaymentColumn& col = cols[c];
    const int64_t total = ColumnTotal(p, c);
    if (total <= 0) continue;  // recoveries (negative annual figures) are not generated
    auto base = [&](Micros ps, Micros pe) {
      ClaimSpec s;
      s.column = c;
      s.stream = col.stream;
      s.service_code = col.service_code;
      s.period_start = ps;
      s.period_end = pe;
      return s;
    };
    auto add = [&](int end_month, ClaimSpec s) {
      plan.by_end_month[end_month].push_back(std::move(s));
    };
    // The pence an item price leaves over, claimed in March so that the year adds up exactly.
    auto add_adjustment = [&](int64_t rem) {
      if (rem <= 0) return;
      ClaimSpec s = base(month_start(11), month_start(12));
      s.id_suffix = "-ADJ";
      s.unit_price = rem;
      add(11, std::move(s));
    };
    switch (col.schedule) {
      case Schedule::kMonthly:
      case Schedule::kFluSeason: {
        const int first = col.schedule == Schedule::kFluSeason ? 5 : 0;  // September
        std::vector<double> w;
        static constexpr double kFlu[] = {0.10, 0.30, 0.25, 0.15, 0.08, 0.07, 0.05};
        for (int mi = first; mi < 12; ++mi) {
          w.push_back(col.schedule == Schedule::kFluSeason
                          ? kFlu[mi - first] * rng.Uniform(0.9, 1.1)
                      : col.unit_price_pence > 0 ? rng.Uniform(0.8, 1.2)
                                                 : rng.Uniform(0.97, 1.03));
        }
        if (col.unit_price_pence == 0) {
          auto parts = SplitExact(total, w);
          for (int mi = first; mi < 12; ++mi) {
            if (parts[mi - first] == 0) continue;
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.unit_price = parts[mi - first];
            add(mi, std::move(s));
          }
        } else {
          const int64_t n = total / col.unit_price_pence;
          const int64_t rem = total % col.unit_price_pence;
          const double uptake = col.schedule == Schedule::kFluSeason ? rng.Uniform(0.70, 0.85)
                                                                     : rng.Uniform(0.75, 0.95);
          const int64_t cohort = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(n / uptake)));
          auto qty = SplitExact(n, w);
          for (int mi = first; mi < 12; ++mi) {
            if (qty[mi - first] == 0) continue;
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.quantity = qty[mi - first];
            s.unit_price = col.unit_price_pence;
            s.cohort = cohort;
            add(mi, std::move(s));
          }
          add_adjustment(rem);
        }
        break;
      }
      case Schedule::kQuarterly: {
        std::vector<double> w;
        for (int q = 0; q < 4; ++q) w.push_back(rng.Uniform(0.9, 1.1));
        auto parts = SplitExact(total, w);
        for (int q = 0; q < 4; ++q) {
          if (parts[q] == 0) continue;
          ClaimSpec s = base(month_start(3 * q), month_start(3 * q + 3));
          s.unit_price = parts[q];
          add(3 * q + 2, std::move(s));
        }
        break;
      }
      case Schedule::kPerPatient: {
        const int64_t n = total / col.unit_price_pence;
        const int64_t rem = total % col.unit_price_pence;
        static constexpr double kLd[] = {0.05, 0.05, 0.05, 0.06, 0.06, 0.07,
                                         0.07, 0.08, 0.08, 0.13, 0.14, 0.16};
        std::vector<double> w(kLd, kLd + 12);
        auto qty = SplitExact(n, w);
        const int64_t cohort =
            std::max<int64_t>(1, static_cast<int64_t>(std::ceil(n / rng.Uniform(0.6, 0.85))));
        int64_t idx = 0;
        for (int mi = 0; mi < 12; ++mi) {
          for (int64_t k = 0; k < qty[mi]; ++k, ++idx) {
            ClaimSpec s = base(month_start(mi), month_start(mi + 1));
            s.id_suffix = "-" + std::to_string(idx);
            s.unit_price = col.unit_price_pence;
            s.cohort = cohort;
            s.patient_ref = PatientRef(seed, p.rec.practice_code, fy, idx);
            add(mi, std::move(s));
          }
        }
        add_adjustment(rem);
        break;
      }
      case Schedule::kQof: {
        const int64_t aspiration = total * 70 / 100;
        const int64_t achievement = total - aspiration;
        std::vector<double> w;
        for (int mi = 0; mi < 12; ++mi) w.push_back(rng.Uniform(0.97, 1.03));
        auto parts = SplitExact(aspiration, w);
        for (int mi = 0; mi < 12; ++mi) {
          if (parts[mi] == 0) continue;
          ClaimSpec s = base(month_start(mi), month_start(mi + 1));
          s.stream = v1::PAYMENT_STREAM_QOF_ASPIRATION;
          s.service_code = "QOFASP";
          s.unit_price = parts[mi];
          add(mi, std::move(s));
        }
        std::vector<double> points(kNumQof);
        for (int i = 0; i < kNumQof; ++i) {
          points[i] = std::floor(kQofIndicators[i].max_points * rng.Uniform(0.55, 1.0) * 100) / 100;
        }
        auto amounts = SplitExact(achievement, points);
        for (int i = 0; i < kNumQof; ++i) {
          if (amounts[i] == 0) continue;
          ClaimSpec s = base(fy, month_start(12));
          s.service_code = "QOF";
          s.indicator = kQofIndicators[i].code;
          s.id_suffix = std::string("-") + kQofIndicators[i].code;
          s.unit_price = amounts[i];
          s.points = points[i];
          s.points_max = kQofIndicators[i].max_points;
          add(11, std::move(s));
        }
        break;
      }
    }
  }
  return plan;
}

bool IsMonthlyLump(const ClaimSpec& s) {
  if (s.service_code == "QOFASP") return true;
  const PaymentColumn& col = PaymentColumns()[s.column];
  return col.schedule == Schedule::kMonthly && col.unit_price_pence == 0 && s.id_suffix.empty();
}

Practice::Practice() = default;
Practice::~Practice() = default;
Practice::Practice(Practice&&) noexcept = default;
Practice& Practice::operator=(Practice&&) noexcept = default;

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Micros UniformTime(Rng& rng, Micros lo, Micros hi) {
  int64_t n = (hi - lo) / kSecond;
  if (n <= 0) return lo;
  return lo + rng.UniformInt(0, n - 1) * kSecond;
}

int64_t ScaleRound(int64_t v, double f) {
  return static_cast<int64_t>(std::llround(static_cast<double>(v) * f));
}

Micros MonthFloor(Micros t) {
  CivilDate c = CivilFromMicros(t);
  return MicrosFromCivil(c.year, c.month, 1);
}

Micros FyStart(Micros t) {
  CivilDate c = CivilFromMicros(t);
  return MicrosFromCivil(c.month >= 4 ? c.year : c.year - 1, 4, 1);
}

int FyMonth(Micros month_start) {
  CivilDate c = CivilFromMicros(month_start);
  return (c.month + 8) % 12;
}

Micros FirstWholeMonth(Micros start) {
  return IsMonthStart(start) ? start : AddMonths(DayStart(start), 1);
}

}  // namespace probity::generate::internal
