// What every command shares: how it fails, and how it reads a date.
#include <iostream>

#include "common/time/civil.h"
#include "services/cli/commands.h"

namespace probity::cli {

int Fail(std::string_view command, const Status& st) {
  std::cerr << "probity " << command << ": " << st.message() << "\n";
  return st.code() == Code::kDataLoss ? kExitDataLoss : kExitFailure;
}

StatusOr<Micros> ParseDateOption(std::string_view flag, const std::string& text) {
  if (std::optional<Micros> t = civil::ParseDate(text)) return *t;
  return InvalidArgument(std::string(flag) + " '" + text + "' is not a date (YYYY-MM-DD)");
}

}  // namespace probity::cli
