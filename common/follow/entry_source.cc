#include "common/follow/entry_source.h"

#include <algorithm>

#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "probity/v1/log.pb.h"

namespace probity::follow {

Status DecodeRecordEnvelopeInto(const v1::LogRecord& record, v1::Envelope* out) {
  // Not validated again: the entry was judged when it arrived, by the rules of that day; here it
  // is only read back, so rules tightened since (and the clock) do not stop it.
  const codec::ContentType ct = record.content_type() == v1::CONTENT_TYPE_JSON
                                    ? codec::ContentType::kJson
                                    : codec::ContentType::kProtobuf;
  Status st = codec::ParseStoredInto(record.payload(), ct, out);
  if (!st.ok()) return DataLoss("logged payload no longer parses: " + st.message());
  return st;
}

StatusOr<v1::Envelope> DecodeRecordEnvelope(const v1::LogRecord& record) {
  v1::Envelope env;
  PROBITY_RETURN_IF_ERROR(DecodeRecordEnvelopeInto(record, &env));
  return env;
}

Status StoreSource::Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) {
  PROBITY_ASSIGN_OR_RETURN(uint64_t size, store_->TreeSize());
  if (next >= size) return Status::Ok();
  return store_->Scan(next, std::min<uint64_t>(size, next + max), [&](const logstore::Entry& e) {
    out->push_back(e);
    return Status::Ok();
  });
}

StatusOr<std::unique_ptr<LogTopicSource>> LogTopicSource::Create(const bus::ClientConfig& cfg) {
  std::unique_ptr<LogTopicSource> s(new LogTopicSource());
  PROBITY_ASSIGN_OR_RETURN(s->consumer_, bus::Consumer::Create(cfg));
  return s;
}

Status LogTopicSource::Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) {
  std::vector<bus::Message> msgs;
  Status polled;
  // Old segments deleted while they were being read (kDataLoss from the consumer): read again
  // from what the topic holds now, here, since nothing the caller holds is wrong (whatever that
  // poll returned is dropped). Either `next` is still there, or the first entry there is past it
  // and the kOutOfRange below names where the topic begins now.
  for (int attempt = 0; attempt < kMovedRetries; ++attempt) {
    if (!assigned_) {
      // The topic key is the index; start from the beginning and skip what was evaluated. (A
      // deployment with retention shorter than the log catches up from a store: CatchUpSource.)
      PROBITY_RETURN_IF_ERROR(
          consumer_->Assign({{std::string(bus::kLogTopic), 0, RD_KAFKA_OFFSET_BEGINNING}}));
      assigned_ = true;
    }
    msgs.clear();
    polled = consumer_->Poll(max, 100, &msgs);
    if (polled.code() != Code::kDataLoss) break;
    assigned_ = false;
  }
  if (polled.code() == Code::kDataLoss) {
    return Unavailable("probity.log.v1 moved under the reader " + std::to_string(kMovedRetries) +
                       " times in a row (" + polled.message() +
                       "); reading it again from its start");
  }
  PROBITY_RETURN_IF_ERROR(polled);
  uint64_t want = next;
  for (const auto& m : msgs) {
    v1::SequencedEntry se;
    if (!se.ParseFromString(m.value)) {
      return DataLoss("probity.log.v1 offset " + std::to_string(m.offset) +
                      " is not a SequencedEntry");
    }
    if (se.index() < want) continue;  // a repeat after a sequencer restart
    if (se.index() > want) {
      // Either the entry is gone (retention) or the topic skipped it; both mean: not here.
      assigned_ = false;
      earliest_ = se.index();
      out->clear();
      return OutOfRange("index " + std::to_string(want) +
                        " is no longer on probity.log.v1 (the next entry there is " +
                        std::to_string(se.index()) +
                        "): catch up from a verified copy of the log (--catch-up-from DIR)");
    }
    logstore::Entry e;
    if (se.leaf_hash().size() != e.leaf_hash.size()) {
      return DataLoss("probity.log.v1 entry " + std::to_string(se.index()) + " states a " +
                      std::to_string(se.leaf_hash().size()) + "-byte leaf hash");
    }
    e.index = se.index();
    std::copy(se.leaf_hash().begin(), se.leaf_hash().end(), e.leaf_hash.begin());
    e.record_bytes = se.record();
    out->push_back(std::move(e));
    ++want;
  }
  return Status::Ok();
}

CatchUpSource::CatchUpSource(EntrySource* primary, std::string store_path)
    : primary_(primary), store_path_(std::move(store_path)) {}
CatchUpSource::~CatchUpSource() = default;

Status CatchUpSource::ReadStore(bool reopen, uint64_t next, size_t max,
                                std::vector<logstore::Entry>* out) {
  if (reopen || store_ == nullptr) {
    store_.reset();
    PROBITY_ASSIGN_OR_RETURN(
        store_, logstore::LogStore::Open(store_path_, {.read_only = true, .entries_only = true}));
  }
  StoreSource from_store(store_.get());
  return from_store.Read(next, max, out);
}

Status CatchUpSource::Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) {
  Status st;
  if (store_path_.empty() || next >= primary_earliest_) {
    st = primary_->Read(next, max, out);
    if (st.code() != Code::kOutOfRange || store_path_.empty()) return st;
    primary_earliest_ = std::max(primary_earliest_, primary_->earliest());
    primary_->Reset();  // try the primary again once past what it lacks
  } else {
    st = OutOfRange("index " + std::to_string(next) + " is below the earliest the topic held (" +
                    std::to_string(primary_earliest_) + ")");
  }
  // Up to the primary's earliest index when it named one: from there on, the primary's.
  if (next < primary_earliest_) max = std::min<uint64_t>(max, primary_earliest_ - next);
  const size_t before = out->size();
  // The store kept open first; opened again when it lacks `next` (a read-only open sees only what
  // was written before it), unless it was just opened.
  const bool fresh = store_ == nullptr;
  for (bool reopen : {false, true}) {
    if (reopen && fresh) break;
    Status read = ReadStore(reopen, next, max, out);
    if (!read.ok()) {
      store_.reset();
      return Unavailable(st.message() + "; catching up from " + store_path_ +
                         " failed: " + read.message());
    }
    if (out->size() != before) break;
  }
  if (out->size() == before) {
    return OutOfRange(st.message() + "; " + store_path_ + " does not have it either");
  }
  // Entries go out with the leaf hashes the store states: the reader checks them (the runtime
  // does, and stops with the entry as evidence), as it checks the topic's.
  caught_up_ += out->size() - before;
  return Status::Ok();
}

}  // namespace probity::follow
