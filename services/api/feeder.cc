#include "services/api/feeder.h"

#include <chrono>

#include "common/merkle/hasher.h"

namespace probity::api {

Status ViewFeeder::Start() {
  PROBITY_ASSIGN_OR_RETURN(next_, follower_->Restore());
  while (true) {
    PROBITY_ASSIGN_OR_RETURN(size_t n, RunOnce());
    if (n == 0) break;
  }
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      auto n = RunOnce();
      if (!n.ok()) {
        MutexLock l(&mu_);
        status_ = n.status();
        return;
      }
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  return Status::Ok();
}

StatusOr<size_t> ViewFeeder::RunOnce(size_t max) {
  std::vector<logstore::Entry> entries;
  PROBITY_RETURN_IF_ERROR(source_->Read(next_, max, &entries));
  size_t applied = 0;
  for (const logstore::Entry& e : entries) {
    if (e.index < next_) continue;
    if (e.index != next_) {
      return DataLoss("api: entry " + std::to_string(e.index) + " after " +
                      std::to_string(next_ - 1) + ": a gap in the log");
    }
    if (merkle::HashLeaf(e.record_bytes) != e.leaf_hash) {
      return DataLoss("api: entry " + std::to_string(e.index) + " does not match its leaf hash");
    }
    v1::LogRecord record;
    if (!record.ParseFromString(e.record_bytes)) {
      return DataLoss("api: entry " + std::to_string(e.index) + " does not parse");
    }
    PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, follow::DecodeRecordEnvelope(record));
    follow::Event ev{.index = e.index,
                     .leaf = e.record_bytes,
                     .record = &record,
                     .envelope = &env,
                     .tree_size = e.index + 1};
    PROBITY_RETURN_IF_ERROR(follower_->Apply(ev, nullptr));
    next_ = e.index + 1;
    ++applied;
  }
  return applied;
}

void ViewFeeder::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Status ViewFeeder::status() const {
  MutexLock l(&mu_);
  return status_;
}

}  // namespace probity::api
