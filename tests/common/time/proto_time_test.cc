#include "common/time/proto_time.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace probity {
namespace {

using google::protobuf::util::TimeUtil;

TEST(ProtoTimeTest, AgreesWithProtobufTimeUtil) {
  for (Micros t :
       {Micros{0}, Micros{1}, Micros{999'999}, Micros{1'000'000}, Micros{1'648'771'200'000'000},
        Micros{1'648'771'200'123'456}, Micros{-1}, Micros{-999'999}, Micros{-1'000'000},
        Micros{-1'000'001}, Micros{-86'400'000'000'123}}) {
    const auto ts = ToTimestamp(t);
    EXPECT_EQ(ts, TimeUtil::MicrosecondsToTimestamp(t)) << t;
    EXPECT_GE(ts.nanos(), 0) << t;
    EXPECT_LT(ts.nanos(), 1'000'000'000) << t;
    EXPECT_EQ(FromTimestamp(ts), t) << t;
    EXPECT_EQ(FromTimestamp(ts), TimeUtil::TimestampToMicroseconds(ts)) << t;
  }
}

TEST(ProtoTimeTest, SetTimestampOverwritesBothFields) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(99);
  ts.set_nanos(5);
  SetTimestamp(&ts, 2'500'000);
  EXPECT_EQ(ts.seconds(), 2);
  EXPECT_EQ(ts.nanos(), 500'000'000);
}

TEST(ProtoTimeTest, FromTimestampDropsSubMicroseconds) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(10);
  ts.set_nanos(1'999);
  EXPECT_EQ(FromTimestamp(ts), 10'000'001);
}

}  // namespace
}  // namespace probity
