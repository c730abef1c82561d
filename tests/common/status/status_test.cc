#include "common/status/status.h"

#include <gtest/gtest.h>

namespace probity {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status UseHalf(int x, int* out) {
  PROBITY_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = DataLoss("index 7 changed");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_EQ(s.ToString(), "DATA_LOSS: index 7 changed");
}

TEST(StatusTest, AssignOrReturnPropagates) {
  int out = -1;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  Status s = UseHalf(3, &out);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd: 3");
  EXPECT_EQ(out, 4);  // unchanged on failure
}

}  // namespace
}  // namespace probity
