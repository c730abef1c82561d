#include "common/time/civil.h"

#include <gtest/gtest.h>

namespace probity::civil {
namespace {

constexpr Micros kDay = 86400LL * 1000000;

TEST(ParseDate, AcceptsRealDaysAtMidnightUtc) {
  EXPECT_EQ(ParseDate("1970-01-01"), 0);
  EXPECT_EQ(ParseDate("2022-04-01"), DaysFromCivil(2022, 4, 1) * kDay);
  EXPECT_EQ(ParseDate("2024-02-29"), DaysFromCivil(2024, 2, 29) * kDay);  // leap year
  EXPECT_EQ(ParseDate("2000-02-29"), DaysFromCivil(2000, 2, 29) * kDay);  // 400-year leap
  EXPECT_EQ(ParseDate("1969-12-31"), -kDay);
  EXPECT_EQ(ParseDate("2023-12-31"), DaysFromCivil(2023, 12, 31) * kDay);
}

TEST(ParseDate, RefusesDaysThatDoNotExist) {
  for (const char* s : {"2023-02-30", "2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01",
                        "2023-00-10", "2023-01-00", "2023-01-32"}) {
    EXPECT_EQ(ParseDate(s), std::nullopt) << s;
  }
}

TEST(ParseDate, RefusesAnythingButYyyyMmDd) {
  for (const char* s : {"", "2023-2-03", "2023-02-3", "23-02-03", " 2023-02-03", "2023-02-03 ",
                        "2023-02-03x", "2023/02/03", "20230203", "2023-02-03T00:00:00Z",
                        "+202-02-03", "2023-+2-03", "2023--2-03", "abcd-ef-gh"}) {
    EXPECT_EQ(ParseDate(s), std::nullopt) << "'" << s << "'";
  }
}

TEST(FormatDate, IsTheInverseOfParseDate) {
  for (const char* s : {"1970-01-01", "1969-12-31", "2022-04-01", "2024-02-29", "2099-12-31"}) {
    auto t = ParseDate(s);
    ASSERT_TRUE(t) << s;
    EXPECT_EQ(FormatDate(*t), s);
    EXPECT_EQ(FormatDate(*t + kDay - 1), s);  // any time of that day
  }
}

}  // namespace
}  // namespace probity::civil
