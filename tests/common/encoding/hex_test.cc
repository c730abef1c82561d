#include "common/encoding/hex.h"

#include <gtest/gtest.h>

#include <string>

namespace probity::encoding {
namespace {

TEST(HexLowerTest, EveryByteValue) {
  EXPECT_EQ(HexLower(""), "");
  EXPECT_EQ(HexLower(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string hex = HexLower(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.find_first_of("ABCDEF"), std::string::npos);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(std::stoi(hex.substr(2 * b, 2), nullptr, 16), b);
}

}  // namespace
}  // namespace probity::encoding
