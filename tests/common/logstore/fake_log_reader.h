// An in-memory LogReader for unit tests of followers, the CLI and the api: entries appended by the
// test, proofs from merkle::InMemoryTree, checkpoints and dead letters as given. It follows the
// LogReader contract (tests/common/logstore/log_reader_contract_test.cc runs the same checks on it
// and on a real LogStore).
#pragma once

#include <algorithm>
#include <map>

#include "common/logstore/reader.h"
#include "common/merkle/in_memory_tree.h"

namespace probity::logstore::testing {

class FakeLogReader final : public LogReader {
 public:
  // Appends a serialized LogRecord; returns its index.
  uint64_t Append(const std::string& record_bytes) {
    v1::LogRecord r;
    r.ParseFromString(record_bytes);
    const uint64_t index = tree_.size();
    tree_.Append(record_bytes);
    entries_.push_back(record_bytes);
    records_.push_back(std::move(r));
    return index;
  }
  void AddCheckpoint(v1::CheckpointRecord c) { checkpoints_.push_back(std::move(c)); }
  void AddDeadLetter(std::string d) { dead_letters_.push_back(std::move(d)); }

  StatusOr<uint64_t> TreeSize() const override { return tree_.size(); }
  StatusOr<merkle::Hash> Root(uint64_t size) const override { return tree_.RootAt(size); }
  StatusOr<Entry> Get(uint64_t index) const override {
    if (index >= tree_.size()) return NotFound("no entry " + std::to_string(index));
    return Entry{index, tree_.LeafHash(index), entries_[index]};
  }
  Status Scan(uint64_t begin, uint64_t end,
              const std::function<Status(const Entry&)>& fn) const override {
    for (uint64_t i = begin; i < std::min<uint64_t>(end, tree_.size()); ++i) {
      PROBITY_RETURN_IF_ERROR(fn(Entry{i, tree_.LeafHash(i), entries_[i]}));
    }
    return Status::Ok();
  }
  StatusOr<std::vector<uint64_t>> FindByEventId(const std::string& event_id) const override {
    std::vector<uint64_t> out;
    for (uint64_t i = 0; i < records_.size(); ++i) {
      if (records_[i].event_id() == event_id) out.push_back(i);
    }
    return out;
  }
  StatusOr<std::vector<uint64_t>> FindByPractice(const std::string& practice, int64_t from,
                                                 int64_t to, size_t limit) const override {
    std::vector<std::pair<int64_t, uint64_t>> hits;
    for (uint64_t i = 0; i < records_.size(); ++i) {
      const auto& r = records_[i];
      const int64_t t = r.occurred_at().seconds() * 1000000 + r.occurred_at().nanos() / 1000;
      if (r.practice_code() == practice && t >= from && t < to) hits.emplace_back(t, i);
    }
    std::sort(hits.begin(), hits.end());
    std::vector<uint64_t> out;
    for (const auto& [t, i] : hits) {
      if (out.size() == limit) break;
      out.push_back(i);
    }
    return out;
  }
  StatusOr<std::vector<uint64_t>> FindByKind(uint32_t kind, uint64_t from,
                                             size_t limit) const override {
    std::vector<uint64_t> out;
    for (uint64_t i = from; i < records_.size() && out.size() < limit; ++i) {
      if (static_cast<uint32_t>(records_[i].kind()) == kind) out.push_back(i);
    }
    return out;
  }
  StatusOr<std::vector<merkle::Hash>> InclusionProof(uint64_t index, uint64_t size) const override {
    return tree_.InclusionProof(index, size);
  }
  StatusOr<std::vector<merkle::Hash>> ConsistencyProof(uint64_t size1,
                                                       uint64_t size2) const override {
    return tree_.ConsistencyProof(size1, size2);
  }
  StatusOr<std::vector<v1::CheckpointRecord>> Checkpoints() const override { return checkpoints_; }
  StatusOr<std::optional<v1::CheckpointRecord>> LatestCheckpoint() const override {
    if (checkpoints_.empty()) return std::optional<v1::CheckpointRecord>();
    return std::optional<v1::CheckpointRecord>(checkpoints_.back());
  }
  StatusOr<uint64_t> DeadLetterCount() const override { return dead_letters_.size(); }
  StatusOr<std::string> GetDeadLetter(uint64_t seq) const override {
    if (seq >= dead_letters_.size()) return NotFound("no dead letter " + std::to_string(seq));
    return dead_letters_[seq];
  }

 private:
  merkle::InMemoryTree tree_;
  std::vector<std::string> entries_;
  std::vector<v1::LogRecord> records_;
  std::vector<v1::CheckpointRecord> checkpoints_;
  std::vector<std::string> dead_letters_;
};

}  // namespace probity::logstore::testing
