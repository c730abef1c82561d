#include "common/encoding/varint.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace probity::encoding {
namespace {

const uint64_t kValues[] = {0,
                            1,
                            127,
                            128,
                            300,
                            16383,
                            16384,
                            (uint64_t{1} << 35) - 1,
                            uint64_t{1} << 56,
                            std::numeric_limits<uint64_t>::max() - 1,
                            std::numeric_limits<uint64_t>::max()};

TEST(VarintTest, SameBytesAsProtobuf) {
  for (uint64_t v : kValues) {
    std::string ours;
    AppendVarint(v, &ours);
    uint8_t theirs[kMaxVarintBytes];
    uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(v, theirs);
    EXPECT_EQ(ours, std::string(reinterpret_cast<char*>(theirs), end - theirs)) << v;
  }
  std::string max;
  AppendVarint(std::numeric_limits<uint64_t>::max(), &max);
  EXPECT_EQ(max.size(), kMaxVarintBytes);
}

TEST(VarintTest, RoundTripsBackToBack) {
  std::string buf;
  for (uint64_t v : kValues) AppendVarint(v, &buf);
  size_t pos = 0;
  for (uint64_t want : kValues) {
    uint64_t got = 0;
    ASSERT_TRUE(ReadVarint(buf, &pos, &got));
    EXPECT_EQ(got, want);
  }
  EXPECT_EQ(pos, buf.size());
}

TEST(VarintTest, TruncatedInputFailsAndLeavesPositionAlone) {
  std::string buf;
  AppendVarint(uint64_t{1} << 40, &buf);
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    size_t pos = 0;
    uint64_t v = 7;
    EXPECT_FALSE(ReadVarint(std::string_view(buf).substr(0, cut), &pos, &v)) << cut;
    EXPECT_EQ(pos, 0u);
    EXPECT_EQ(v, 7u);
  }
}

TEST(VarintTest, MoreThanTenBytesFails) {
  const std::string eleven(11, '\x80');
  size_t pos = 0;
  uint64_t v = 0;
  EXPECT_FALSE(ReadVarint(eleven, &pos, &v));
  EXPECT_EQ(pos, 0u);
}

TEST(ZigZagTest, MatchesProtobufSint64) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{-2}, int64_t{2},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(ZigZagEncode(v), google::protobuf::internal::WireFormatLite::ZigZagEncode64(v));
    EXPECT_EQ(ZigZagDecode(ZigZagEncode(v)), v);
  }
  static_assert(ZigZagEncode(-1) == 1 && ZigZagEncode(1) == 2 && ZigZagDecode(3) == -2);
}

}  // namespace
}  // namespace probity::encoding
