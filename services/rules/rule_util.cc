#include "services/rules/rule_util.h"

#include <algorithm>
#include <cmath>

#include "probity/v1/events.pb.h"

namespace probity::rules::internal {

std::string FormatPounds(double pence) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "£%.2f", pence / 100.0);
  return buf;
}

std::string FormatDate(int64_t secs) {
  Civil c = CivilFromDays(DayOf(secs));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

std::string StreamName(int32_t stream) {
  std::string n = probity::v1::PaymentStream_Name(static_cast<probity::v1::PaymentStream>(stream));
  if (n.rfind("PAYMENT_STREAM_", 0) == 0) n = n.substr(15);
  return n;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double Mad(const std::vector<double>& v, double median) {
  std::vector<double> dev;
  dev.reserve(v.size());
  for (double x : v) dev.push_back(std::fabs(x - median));
  return Median(std::move(dev));
}

}  // namespace probity::rules::internal
