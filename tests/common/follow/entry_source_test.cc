// Followers read logged entries back without judging them again: an entry accepted before the
// codec's rules were tightened (here, strict JSON) still reads, from a record and through the
// real store.
#include "common/follow/entry_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"

namespace probity::follow {
namespace {

namespace fs = std::filesystem;

constexpr Micros kNow = 1717200000LL * 1000000;  // 2024-06-01T00:00:00Z

// A referral in JSON whose specialty_code holds a raw tab and a raw 0x01, as a log written before
// JSON was read strictly (RFC 8259) may hold it.
const std::string kOldJson = std::string(
    "{\"event_id\":\"ref-0001\",\"kind\":\"EVENT_KIND_REFERRAL\",\"schema_version\":1,"
    "\"practice_code\":\"A81001\",\"occurred_at\":\"2024-05-01T09:30:00Z\","
    "\"referral\":{\"ubrn\":\"000123456789\",\"specialty_code\":\"CARDIO\tLO\x01GY\","
    "\"priority\":\"REFERRAL_PRIORITY_ROUTINE\"}}");

v1::LogRecord Record(std::string payload, v1::ContentType content_type, std::string event_id,
                     int64_t offset) {
  v1::LogRecord r;
  r.set_payload(std::move(payload));
  r.set_content_type(content_type);
  r.set_topic(std::string(bus::kReferralsTopic));
  r.set_offset(offset);
  r.set_event_id(std::move(event_id));
  r.set_kind(v1::EVENT_KIND_REFERRAL);
  r.set_practice_code("A81001");
  r.mutable_occurred_at()->set_seconds(1714555800);
  return r;
}

TEST(DecodeRecordEnvelope, ReadsAnEntryTheStricterDecodeNowRejects) {
  auto d = codec::Decode(bus::kReferralsTopic, kOldJson, "application/json", codec::Policy(), kNow);
  ASSERT_TRUE(std::holds_alternative<codec::Rejection>(d));
  EXPECT_EQ(std::get<codec::Rejection>(d).reason_code, "MALFORMED_JSON");

  StatusOr<v1::Envelope> env =
      DecodeRecordEnvelope(Record(kOldJson, v1::CONTENT_TYPE_JSON, "ref-0001", 0));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->event_id(), "ref-0001");
  EXPECT_EQ(env->referral().specialty_code(), "CARDIO\tLO\x01GY");
}

TEST(DecodeRecordEnvelope, PayloadThatIsNoEnvelopeIsDataLoss) {
  StatusOr<v1::Envelope> env =
      DecodeRecordEnvelope(Record("{\"event_id\": ", v1::CONTENT_TYPE_JSON, "x", 0));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), Code::kDataLoss);
  env = DecodeRecordEnvelope(Record("\xff\xff\xff", v1::CONTENT_TYPE_PROTOBUF, "x", 0));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), Code::kDataLoss);
}

class StoreSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("probity_follow_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

TEST_F(StoreSourceTest, OldEntryWrittenBySequencerReadsBackThroughStoreSource) {
  v1::Envelope binary_env;
  binary_env.set_event_id("ref-0002");
  binary_env.set_kind(v1::EVENT_KIND_REFERRAL);
  binary_env.set_schema_version(1);
  binary_env.mutable_referral()->set_specialty_code("CARDIOLOGY");
  {
    auto store = logstore::LogStore::Open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto seq = logstore::Sequencer::Create(store->get());
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    std::vector<v1::LogRecord> records = {
        Record(kOldJson, v1::CONTENT_TYPE_JSON, "ref-0001", 0),
        Record(binary_env.SerializeAsString(), v1::CONTENT_TYPE_PROTOBUF, "ref-0002", 1),
    };
    auto r = (*seq)->Append(&records, {{{std::string(bus::kReferralsTopic), 0}, 2}}, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->appended, 2u);
  }
  // A follower opens the store read-only and reads it in order.
  auto store = logstore::LogStore::Open(dir_.string(), {.read_only = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StoreSource source(store->get());
  std::vector<logstore::Entry> entries;
  ASSERT_TRUE(source.Read(0, 10, &entries).ok());
  ASSERT_EQ(entries.size(), 2u);

  v1::LogRecord first;
  ASSERT_TRUE(first.ParseFromString(entries[0].record_bytes));
  EXPECT_EQ(first.payload(), kOldJson);  // stored byte for byte
  StatusOr<v1::Envelope> env = DecodeRecordEnvelope(first);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->referral().specialty_code(), "CARDIO\tLO\x01GY");

  v1::LogRecord second;
  ASSERT_TRUE(second.ParseFromString(entries[1].record_bytes));
  env = DecodeRecordEnvelope(second);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->SerializeAsString(), binary_env.SerializeAsString());
}

// A primary whose entries are all gone (retention): every read is kOutOfRange.
class GoneSource final : public EntrySource {
 public:
  Status Read(uint64_t next, size_t, std::vector<logstore::Entry>*) override {
    ++reads;
    return OutOfRange("entry " + std::to_string(next) + " is no longer on the topic");
  }
  void Reset() override { ++resets; }
  int reads = 0, resets = 0;
};

TEST_F(StoreSourceTest, CatchUpReadsTheStoreAndSeesWhatItsWriterAppendsLater) {
  auto writer = logstore::LogStore::Open(dir_.string(), {});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto seq = logstore::Sequencer::Create(writer->get());
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  auto append = [&](int from, int n) {
    std::vector<v1::LogRecord> records;
    for (int i = from; i < from + n; ++i)
      records.push_back(Record(kOldJson, v1::CONTENT_TYPE_JSON, "ref-" + std::to_string(i), i));
    auto r = (*seq)->Append(&records, {{{std::string(bus::kReferralsTopic), 0}, from + n}}, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  append(0, 3);
  GoneSource gone;
  CatchUpSource source(&gone, dir_.string());
  std::vector<logstore::Entry> got;
  ASSERT_TRUE(source.Read(0, 10, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  // Written after the catch-up store was opened: read on the next call, no entry skipped.
  append(3, 2);
  ASSERT_TRUE(source.Read(3, 10, &got).ok());
  ASSERT_EQ(got.size(), 5u);
  for (uint64_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].index, i);
  EXPECT_EQ(source.caught_up(), 5u);
  EXPECT_EQ(gone.resets, 2);  // the topic is tried again after each catch-up read
  // Past the store's end: still out of range, saying neither has it.
  Status past = source.Read(5, 10, &got);
  EXPECT_EQ(past.code(), Code::kOutOfRange) << past.ToString();
  EXPECT_NE(past.message().find("does not have it either"), std::string::npos) << past.ToString();
  EXPECT_EQ(got.size(), 5u);
}

// A primary (the topic) that holds the entries from `from` on and names that index when asked
// for an earlier one, as LogTopicSource does.
class TailSource final : public EntrySource {
 public:
  explicit TailSource(uint64_t from) : from_(from) {}
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override {
    ++reads;
    if (next < from_) {
      return OutOfRange("index " + std::to_string(next) + " is no longer on the topic");
    }
    for (uint64_t i = next; i < next + max && i < from_ + 100; ++i) {
      logstore::Entry e;
      e.index = i;
      e.record_bytes = "from the topic";
      out->push_back(std::move(e));
    }
    return Status::Ok();
  }
  uint64_t earliest() const override { return from_; }
  int reads = 0;

 private:
  uint64_t from_;
};

TEST_F(StoreSourceTest, CatchUpTakesFromTheStoreOnlyWhatTheTopicNoLongerHolds) {
  auto writer = logstore::LogStore::Open(dir_.string(), {});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto seq = logstore::Sequencer::Create(writer->get());
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  std::vector<v1::LogRecord> records;
  for (int i = 0; i < 10; ++i)
    records.push_back(Record(kOldJson, v1::CONTENT_TYPE_JSON, "ref-" + std::to_string(i), i));
  ASSERT_TRUE((*seq)->Append(&records, {{{std::string(bus::kReferralsTopic), 0}, 10}}, {}).ok());

  TailSource topic(6);  // the topic holds 6.. ; the store 0..9
  CatchUpSource source(&topic, dir_.string());
  std::vector<logstore::Entry> got;
  ASSERT_TRUE(source.Read(0, 4, &got).ok());
  EXPECT_EQ(topic.reads, 1);  // asked once: it named its earliest index
  ASSERT_TRUE(source.Read(4, 4, &got).ok());
  EXPECT_EQ(topic.reads, 1);  // below that index the store answers alone ...
  ASSERT_EQ(got.size(), 6u);  // ... and only up to it (4, 5), though it holds more
  ASSERT_TRUE(source.Read(6, 4, &got).ok());
  EXPECT_EQ(topic.reads, 2);  // from there on, the topic
  ASSERT_EQ(got.size(), 10u);
  for (uint64_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, i);
    EXPECT_EQ(got[i].record_bytes == "from the topic", i >= 6) << i;
  }
  EXPECT_EQ(source.caught_up(), 6u);
}

// The bus deletes the log's old segments while a slow follower is still reading them (the
// embedded bus keeps about 5 MB a partition): the source reads the topic again from where it
// begins now and names that index (kOutOfRange, so a CatchUpSource goes to its store at once),
// rather than asking the runtime to back off and restart (kUnavailable). It never skips.
TEST(LogTopicSourceTest, SegmentsDeletedUnderTheReaderNameTheEarliestIndex) {
  auto cluster = bus::EmbeddedCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  bus::ClientConfig cfg{(*cluster)->bootstrap_servers(), {}};
  auto producer = bus::Producer::Create(cfg);
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->WarmUp(std::string(bus::kLogTopic), 10000).ok());
  uint64_t produced = 0;
  auto produce = [&](uint64_t count) {
    for (uint64_t end = produced + count; produced < end; ++produced) {
      v1::SequencedEntry se;
      se.set_index(produced);
      se.set_leaf_hash(std::string(32, 'h'));
      se.set_record(std::string(300, 'r'));
      ASSERT_TRUE((*producer)
                      ->Produce(bus::kLogTopic, 0, std::to_string(produced), se.SerializeAsString())
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(30000).ok());
  };
  produce(1000);
  // A follower whose consumer fetches little ahead of what it has read, so that the bus can
  // delete its position (by default librdkafka prefetches up to 100,000 messages).
  bus::ClientConfig slow = cfg;
  slow.properties["queued.min.messages"] = "1";
  slow.properties["queued.max.messages.kbytes"] = "1";
  slow.properties["max.partition.fetch.bytes"] = "2048";
  auto source = LogTopicSource::Create(slow);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<logstore::Entry> got;
  for (int i = 0; i < 200 && got.size() < 10; ++i) ASSERT_TRUE((*source)->Read(0, 10, &got).ok());
  ASSERT_EQ(got.size(), 10u);
  // About 9 MB more before the follower reads again: the segments holding its position are gone.
  produce(25000);

  Status st;
  uint64_t next = got.size();
  for (int i = 0; i < 1000 && st.ok() && next < produced; ++i) {
    std::vector<logstore::Entry> batch;
    st = (*source)->Read(next, 100, &batch);
    for (const auto& e : batch) ASSERT_EQ(e.index, next++);  // no gap before it
  }
  ASSERT_EQ(st.code(), Code::kOutOfRange) << st.ToString();
  EXPECT_GT((*source)->earliest(), next);
  EXPECT_LT((*source)->earliest(), produced);
  EXPECT_NE(st.message().find("index " + std::to_string(next) + " is no longer on"),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace probity::follow
