#include "services/generate/reference.h"

#include <gtest/gtest.h>

#include <set>

namespace probity::generate {
namespace {

TEST(ParseCsv, DropsBomAndHandlesQuotedCommasQuotesAndNewlines) {
  const std::string text =
      "\xEF\xBB\xBF"
      "a,\"b,c\",d\r\n"
      "1,\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
      "\n"
      ",,\n"
      "last,row,\"\"";
  auto rows = ParseCsv(text);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"a", "b,c", "d"}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"1", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ((*rows)[2], (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ((*rows)[3], (std::vector<std::string>{"last", "row", ""}));
}

TEST(ParseCsv, UnterminatedQuoteIsAnError) {
  auto rows = ParseCsv("a,\"b\nc");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), Code::kInvalidArgument);
}

TEST(ParsePence, ExactForTwoDecimals) {
  EXPECT_EQ(*ParsePence("438099.78"), 43809978);
  EXPECT_EQ(*ParsePence("-84342.76"), -8434276);
  EXPECT_EQ(*ParsePence("0"), 0);
  EXPECT_EQ(*ParsePence(""), 0);
  EXPECT_EQ(*ParsePence("2520"), 252000);
  EXPECT_EQ(*ParsePence("1.5"), 150);
  EXPECT_EQ(*ParsePence("0.005"), 1);
  EXPECT_EQ(*ParsePence(" 12.34 "), 1234);
  EXPECT_FALSE(ParsePence("12a").ok());
  EXPECT_FALSE(ParsePence("-").ok());
}

TEST(IcbCodeFromName, Initials) {
  EXPECT_EQ(IcbCodeFromName("NHS NORTH EAST AND NORTH CUMBRIA ICB"), "QNENC");
  EXPECT_EQ(IcbCodeFromName("NHS BATH AND NORTH EAST SOMERSET, SWINDON AND WILTSHIRE ICB"),
            "QBNESS");
  EXPECT_EQ(IcbCodeFromName("NHS STAFFORDSHIRE AND STOKE-ON-TRENT ICB"), "QSSOT");
  EXPECT_EQ(IcbCodeFromName("NHS DEVON ICB"), "QDEV");
}

TEST(ParseReference, QuotedHeaderAndRows) {
  const std::string text =
      "\xEF\xBB\xBF"
      "Practice Code,Practice Name,Sub ICB NAME,CCG Code,Number of Registered Patients (Last Known "
      "Figure),Number of Weighted Patients (Last Known Figure),Contract Type,Dispensing Practice,"
      "Practice Rurality,Practice Close Date,Global Sum,\"Non DES Item Pneumococcal Vaccine, "
      "Childhood Immunisation Main Programme\",Learning Disabilities\r\n"
      "A81001,\"THE SURGERY, HIGH ST\",NHS NORTH EAST AND NORTH CUMBRIA ICB - 16C,16C,4029.25,"
      "4579.78,GMS,No,Urban,,438099.78,\"1,2\",2520\r\n"
      "A81002,EMPTY,NHS DEVON ICB - 15N,15N,0,0,PMS,Yes,Rural,31/03/2022,0,0,0\r\n";
  auto recs = ParseReference(text);
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  ASSERT_EQ(recs->size(), 2u);
  const auto& a = (*recs)[0];
  EXPECT_EQ(a.practice_code, "A81001");
  EXPECT_EQ(a.practice_name, "THE SURGERY, HIGH ST");
  EXPECT_EQ(a.icb_code, "QNENC");
  EXPECT_EQ(a.sub_icb_code, "16C");
  EXPECT_EQ(a.contract_type, v1::CONTRACT_TYPE_GMS);
  EXPECT_FALSE(a.dispensing);
  EXPECT_EQ(a.rurality, v1::RURALITY_URBAN);
  EXPECT_DOUBLE_EQ(a.list_size, 4029.25);
  EXPECT_EQ(a.payments_pence[PaymentColumnIndex("GSUM")], 43809978);
  EXPECT_EQ(a.payments_pence[PaymentColumnIndex("LDHC")], 252000);
  EXPECT_EQ(a.payments_pence[PaymentColumnIndex("PREMISES")], 0);  // column absent
  EXPECT_TRUE(IsActivePractice(a));
  EXPECT_FALSE(IsActivePractice((*recs)[1]));
  EXPECT_TRUE((*recs)[1].dispensing);
}

TEST(ParseReference, BadNumberNamesRowAndColumn) {
  auto recs = ParseReference(
      "Practice Code,Number of Registered Patients (Last Known Figure),Number of Weighted Patients "
      "(Last Known Figure),Global Sum\nA81001,10,10,12x\n");
  ASSERT_FALSE(recs.ok());
  EXPECT_NE(recs.status().message().find("Global Sum"), std::string::npos);
  EXPECT_NE(recs.status().message().find("A81001"), std::string::npos);
}

TEST(ParseReference, MissingRequiredColumn) {
  EXPECT_FALSE(ParseReference("Practice Name\nX\n").ok());
}

TEST(LoadReference, RepositoryCopyMatchesKnownFigures) {
  auto recs = LoadReference(DefaultReferenceCsvPath());
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  EXPECT_EQ(recs->size(), 6669u);
  int with_patients = 0, active = 0;
  std::set<std::string> icbs;
  for (const auto& r : *recs) {
    with_patients += r.list_size > 0;
    active += IsActivePractice(r);
    icbs.insert(r.icb_code);
  }
  EXPECT_EQ(with_patients, 6463);
  // 4 closed practices still report patients, and 11 report a fractional last-known list below
  // one patient (merged or closed during the year); neither is active.
  EXPECT_EQ(active, 6448);
  EXPECT_EQ(icbs.size(), 42u);
  EXPECT_FALSE(LoadReference("/nonexistent/file.csv").ok());
}

}  // namespace
}  // namespace probity::generate
