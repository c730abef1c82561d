// Exports: columns, selection by payment run, CSV quoting, reproducibility.
#include "services/payments/export.h"

#include <gtest/gtest.h>

#include "common/crypto/sha256.h"

namespace probity::payments {
namespace {

LoggedInstruction Make(uint64_t index, const std::string& id, v1::PaymentAction action,
                       int64_t pence, const std::string& date, const std::string& reason = "r") {
  LoggedInstruction li;
  li.index = index;
  li.practice_code = "A81001";
  auto& i = li.instruction;
  i.set_instruction_id(id);
  i.set_claim_id("C-" + id);
  i.set_action(action);
  i.set_amount_pence(pence);
  i.set_reason(reason);
  i.set_stream(v1::PAYMENT_STREAM_ITEM_OF_SERVICE);
  i.set_paycode("IOS");
  i.set_payment_date(date);
  i.set_policy_version("p@1");
  i.set_icb_code("QHM");
  i.set_flag_id("abcdef0123456789");
  return li;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t p; (p = s.find("\r\n", start)) != std::string::npos; start = p + 2)
    out.push_back(s.substr(start, p - start));
  return out;
}

TEST(ExportTest, OneRunsInstructionsInBothFiles) {
  std::vector<LoggedInstruction> in = {
      Make(3, "i1", v1::PAYMENT_ACTION_APPROVE, 12345, "2023-05-01"),
      Make(4, "i2", v1::PAYMENT_ACTION_HOLD, 500, "2023-05-01", "hold: flag, \"quoted\""),
      Make(5, "i3", v1::PAYMENT_ACTION_REVERSE, 900, "2023-05-01"),
      Make(6, "i4", v1::PAYMENT_ACTION_APPROVE, 1, "2023-06-01"),      // another run
      Make(7, "i1", v1::PAYMENT_ACTION_APPROVE, 12345, "2023-05-01"),  // a repeat: once
      Make(8, "i5", v1::PAYMENT_ACTION_WITHHOLD, 500, "2023-05-01"),
  };
  Export e = BuildExport(in, "2023-05-01", "", 10);
  auto v = Lines(e.variation.content);
  ASSERT_EQ(v.size(), 4u);  // header, APPROVE, REVERSE, WITHHOLD
  EXPECT_EQ(v[0] + "\r\n", kVariationHeader);
  EXPECT_EQ(v[1],
            "A81001,QHM,IOS,ITEM_OF_SERVICE,C-i1,2023-05,2023-05-01,APPROVE,123.45,123.45,r,i1,,"
            "abcdef0123456789,3");
  EXPECT_NE(v[2].find(",REVERSE,9.00,-9.00,"), std::string::npos) << v[2];
  EXPECT_NE(v[3].find(",WITHHOLD,5.00,0.00,"), std::string::npos) << v[3];
  EXPECT_EQ(e.variation.rows, 3u);
  auto h = Lines(e.holds.content);
  ASSERT_EQ(h.size(), 3u);  // header, HOLD, RELEASE (closing by withhold)
  EXPECT_EQ(h[1].rfind("HOLD,PROBITY FLAG abcdef012345,\"hold: flag, \"\"quoted\"\"\","
                       "probity-payments (p@1),,,,A81001,C-i2,5.00,2023-05-01,i2,4",
                       0),
            0u)
      << h[1];
  EXPECT_EQ(h[2].rfind("RELEASE,,,,PROBITY UPHELD,r,probity-payments (p@1),A81001,C-i5", 0), 0u)
      << h[2];
  EXPECT_EQ(e.variation.sha256_hex, crypto::Sha256Hex(e.variation.content));
  EXPECT_EQ(e.variation.file_name, "contract-variation-2023-05-01-size-10.csv");
  EXPECT_EQ(e.holds.file_name, "holds-2023-05-01-size-10.csv");
  // The same input: the same bytes.
  EXPECT_EQ(BuildExport(in, "2023-05-01", "", 10).variation.content, e.variation.content);
  // A range of runs.
  Export all = BuildExport(in, "2023-06-01", "2023-01-01", 10);
  EXPECT_EQ(all.variation.rows, 4u);
  EXPECT_EQ(all.variation.file_name, "contract-variation-2023-01-01-to-2023-06-01-size-10.csv");
}

TEST(ExportTest, EnvelopeLogsTheHash) {
  Export e = BuildExport({Make(1, "i1", v1::PAYMENT_ACTION_APPROVE, 1, "2023-05-01")}, "2023-05-01",
                         "", 2);
  v1::Envelope env = MakeExportEnvelope(e, e.variation, 1680480000000000);
  EXPECT_EQ(env.event_id(), "export-" + e.variation.sha256_hex);
  EXPECT_EQ(env.payment_export().covers_tree_size(), 2u);
  EXPECT_EQ(env.payment_export().rows(), 1u);
  EXPECT_EQ(env.payment_export().format(), "contract-variation-csv/1");
  EXPECT_EQ(env.payment_export().policy_version(), "p@1");
}

}  // namespace
}  // namespace probity::payments
