#include "common/follow/runtime.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/codec/codec.h"
#include "common/merkle/hasher.h"

namespace probity::follow {
namespace {

std::string N(uint64_t n) { return std::to_string(n); }

StatusOr<std::optional<std::string>> ReadFileIfAny(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return IoError("cannot read " + path);
  return std::optional<std::string>(ss.str());
}

// What a follower without a bus publisher is given.
class NoPublisher final : public Publisher {
 public:
  Status Publish(std::string_view topic, std::string_view, std::string_view,
                 const bus::Headers&) override {
    return Internal("this follower has no bus publisher (publishing to " + std::string(topic) +
                    ")");
  }
};

Publisher* NoBus() {
  static NoPublisher* none = new NoPublisher();
  return none;
}

}  // namespace

Status WriteFileDurably(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      return IoError("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return IoError("cannot sync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status PublishStored(Publisher* out, const std::string& path, std::string_view topic,
                     std::string_view key, std::string_view value) {
  PROBITY_ASSIGN_OR_RETURN(std::optional<std::string> stored, ReadFileIfAny(path));
  if (!stored) {
    PROBITY_RETURN_IF_ERROR(WriteFileDurably(path, value));
    stored = std::string(value);
  }
  return out->Publish(topic, key, *stored);
}

Runtime::Runtime(Options options, Follower* follower, EntrySource* entries,
                 CheckpointSource* checkpoints, BusPublisher* publisher, const Clock* clock)
    : options_(std::move(options)),
      follower_(follower),
      entries_(entries),
      checkpoints_(checkpoints),
      publisher_(publisher),
      clock_(clock),
      watch_(std::make_unique<metrics::ProgressWatch>(std::string(follower->name()), clock)) {
  if (options_.registry != nullptr) {
    gauges_ = std::make_unique<Gauges>(*options_.registry, std::string(follower->name()));
  }
}

Runtime::~Runtime() = default;

// Families are shared by every runtime in the process (prometheus-cpp merges a family registered
// twice under one name); each runtime adds its own target label.
struct Runtime::Gauges {
  Gauges(prometheus::Registry& r, const std::string& target)
      : next_index(
            prometheus::BuildGauge()
                .Name("probity_follower_next_index")
                .Help("The next log index the follower applies (lag: probity_log_size minus this)")
                .Register(r)
                .Add({{"target", target}})),
        tree_size(prometheus::BuildGauge()
                      .Name("probity_follower_tree_size")
                      .Help("Leaves the follower integrated into its own tree, each hash-checked")
                      .Register(r)
                      .Add({{"target", target}})),
        verified_size(
            prometheus::BuildGauge()
                .Name("probity_follower_verified_size")
                .Help("Size of the latest checkpoint the follower verified against its tree")
                .Register(r)
                .Add({{"target", target}})),
        retries(prometheus::BuildCounter()
                    .Name("probity_follower_retries_total")
                    .Help("Rounds the follower went back to its saved state and retried")
                    .Register(r)
                    .Add({{"target", target}})) {}
  prometheus::Gauge& next_index;
  prometheus::Gauge& tree_size;
  prometheus::Gauge& verified_size;
  prometheus::Counter& retries;
  uint64_t counted_retries = 0;
};

bool Runtime::Retriable(const Status& st) {
  return st.code() == Code::kUnavailable || st.code() == Code::kOutOfRange ||
         st.code() == Code::kFailedPrecondition;
}

Status Runtime::LoadTree(uint64_t next) {
  const std::string path = options_.data_dir + "/tree";
  std::optional<TreeState> chosen;
  std::optional<v1::CheckpointRecord> newest_checkpoint;
  for (const std::string& p : {path, path + ".prev"}) {
    PROBITY_ASSIGN_OR_RETURN(std::optional<std::string> bytes, ReadFileIfAny(p));
    if (!bytes) continue;
    StatusOr<TreeState> st = DecodeTreeState(*bytes);
    if (!st.ok()) {
      std::fprintf(stderr, "probity %s: ignoring %s: %s\n", std::string(follower_->name()).c_str(),
                   p.c_str(), st.status().ToString().c_str());
      continue;
    }
    if (!newest_checkpoint && st->checkpoint) newest_checkpoint = st->checkpoint;
    if (st->verified.size() <= next) {
      chosen = std::move(st).value();
      break;
    }
  }
  TreeState state = chosen ? std::move(*chosen) : TreeState{};
  // A tree ahead of the follower keeps its leaves: the entries in between are read again, checked
  // against them, and applied (read_ starts at the follower's index, below).
  tree_ = std::make_unique<TreeVerifier>(options_.origin, options_.log_keys, std::move(state));
  if (!chosen && newest_checkpoint && checkpoints_ != nullptr) {
    // The follower went back before every saved tree (its state was lost): the tree is built
    // again from 0, and still has to meet the newest checkpoint it verified before.
    Evidence ev;
    Status st = tree_->AddCheckpoint(*newest_checkpoint, &ev);
    if (!st.ok()) return Stop(st, ev);
  }
  tree_->StartStream();
  saved_tree_size_ = tree_->size();
  return Status::Ok();
}

Status Runtime::SaveTree() {
  // Nothing to check a tail against; the base must stay at or below the follower's saved cursor.
  if (checkpoints_ == nullptr && tree_->size() == durable_next_) tree_->Settle();
  std::error_code ec;
  const std::string path = options_.data_dir + "/tree";
  if (std::filesystem::exists(path, ec)) {
    std::filesystem::rename(path, path + ".prev", ec);
    if (ec) return IoError("cannot rename " + path + ": " + ec.message());
  }
  PROBITY_RETURN_IF_ERROR(WriteFileDurably(path, EncodeTreeState(tree_->state())));
  last_tree_save_ = clock_->NowMicros();
  tree_saved_since_start_ = true;
  saved_tree_size_ = tree_->size();
  return Status::Ok();
}

Status Runtime::Restore() {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return IoError("cannot create " + options_.data_dir + ": " + ec.message());
  if (checkpoints_ != nullptr && options_.log_keys.empty()) {
    return InvalidArgument(std::string(follower_->name()) +
                           ": checkpoints are read but no log verifier key is given");
  }
  PROBITY_ASSIGN_OR_RETURN(next_, follower_->Restore());
  saved_next_ = durable_next_ = next_;
  tree_saved_since_start_ = false;
  PROBITY_RETURN_IF_ERROR(LoadTree(next_));
  held_.clear();
  verified_.clear();
  checkpoint_unsaved_ = false;
  read_ = std::min(next_, tree_->size());
  reread_from_ = read_;
  reread_.clear();
  for (uint64_t i = read_; i < tree_->size(); ++i) {
    std::optional<merkle::Hash> leaf = tree_->LeafAt(i);
    // LoadTree chose a tree whose verified base is at or below the follower's cursor.
    if (!leaf) return Internal("follow: no kept leaf at " + N(i) + " to check a re-read against");
    reread_.push_back(*leaf);
  }
  entries_->Reset();
  if (checkpoints_ != nullptr) checkpoints_->Reset();
  Publish();
  return Status::Ok();
}

Status Runtime::Start() {
  PROBITY_RETURN_IF_ERROR(Restore());
  PROBITY_RETURN_IF_ERROR(follower_->PublishAtStart(out()));
  if (publisher_ != nullptr) {
    PROBITY_RETURN_IF_ERROR(publisher_->Confirm(options_.confirm_timeout_ms));
  }
  started_ = true;
  last_save_ = last_tree_save_ = clock_->NowMicros();
  return Status::Ok();
}

Status Runtime::Restart() {
  started_ = false;
  if (publisher_ != nullptr) PROBITY_RETURN_IF_ERROR(publisher_->Reset());
  PROBITY_RETURN_IF_ERROR(Restore());
  started_ = true;
  last_save_ = last_tree_save_ = clock_->NowMicros();
  return Status::Ok();
}

Status Runtime::Stop(const Status& st, const Evidence& evidence) {
  std::string where;
  if (!evidence.name.empty()) {
    const std::string dir = options_.data_dir + "/evidence/" + evidence.name;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    bool ok = !ec;
    for (const auto& [name, bytes] : evidence.files) {
      ok = ok && WriteFileDurably(dir + "/" + name, bytes).ok();
    }
    where = ok ? "; evidence kept in " + dir : "; could not write the evidence to " + dir;
  }
  Status out(st.code(), std::string(follower_->name()) + ": " + st.message() + where);
  watch_->SetBlocker(out.ToString());
  return out;
}

Status Runtime::ReadCheckpoints() {
  if (checkpoints_ == nullptr) return Status::Ok();
  std::vector<v1::CheckpointRecord> got;
  PROBITY_RETURN_IF_ERROR(checkpoints_->Read(&got));
  for (const auto& r : got) {
    Evidence ev;
    Status st = tree_->AddCheckpoint(r, &ev);
    if (!st.ok()) return Stop(st, ev);
  }
  return Status::Ok();
}

Status Runtime::ReadEntries(size_t* read) {
  *read = 0;
  if (held_.size() >= options_.max_held) return Status::Ok();
  std::vector<logstore::Entry> batch;
  PROBITY_RETURN_IF_ERROR(entries_->Read(read_, options_.max_batch, &batch));
  for (logstore::Entry& e : batch) {
    if (e.index < read_) continue;  // a repeat
    Evidence ev;
    if (e.index > read_) {
      ev.name = "gap-at-" + N(read_);
      std::string reason = "the log skipped entry " + N(read_) + ": the next entry read is " +
                           N(e.index) + " (a gap)";
      ev.files = {{"report.txt", reason + "\n"}};
      return Stop(DataLoss(reason), ev);
    }
    const merkle::Hash h = merkle::HashLeaf(e.record_bytes);
    if (h != e.leaf_hash) {
      ev.name = "entry-" + N(e.index);
      std::string reason = "entry " + N(e.index) + " does not match its leaf hash (stated " +
                           merkle::ToHex(e.leaf_hash) + ", its bytes hash to " + merkle::ToHex(h) +
                           ")";
      ev.files = {{"report.txt", reason + "\n"}, {"entry-" + N(e.index) + ".leaf", e.record_bytes}};
      return Stop(DataLoss(reason), ev);
    }
    if (e.index < reread_from_ + reread_.size()) {
      // Read again after a restart: it must be the leaf the saved tree integrated before.
      if (reread_[e.index - reread_from_] != h) {
        ev.name = "entry-" + N(e.index);
        std::string reason = "entry " + N(e.index) +
                             " read again is not the entry this follower "
                             "integrated before (its leaf hash " +
                             merkle::ToHex(h) + " differs)";
        ev.files = {{"report.txt", reason + "\n"},
                    {"entry-" + N(e.index) + ".leaf", e.record_bytes}};
        return Stop(DataLoss(reason), ev);
      }
      if (e.index + 1 == reread_from_ + reread_.size()) reread_.clear();
    } else {
      Status st = tree_->AddLeaf(e.index, h, &ev);
      if (!st.ok()) {
        ev.files.push_back({"entry-" + N(e.index) + ".leaf", e.record_bytes});
        return Stop(st, ev);
      }
    }
    ++read_;
    ++*read;
    if (e.index >= next_) held_.push_back(std::move(e));
  }
  return Status::Ok();
}

Status Runtime::ApplyHeld(size_t* applied) {
  *applied = 0;
  const uint64_t limit = options_.apply_verified_only ? tree_->verified_size() : tree_->size();
  const bool decode = follower_->needs_envelope();
  v1::LogRecord record;
  v1::Envelope envelope;  // both reused: an Event is valid only during its call
  while (!held_.empty() && held_.front().index < limit) {
    const logstore::Entry& e = held_.front();
    if (!record.ParseFromString(e.record_bytes)) {
      return Stop(DataLoss("entry " + N(e.index) + " does not parse as a LogRecord"), {});
    }
    if (decode) {
      Status st = DecodeRecordEnvelopeInto(record, &envelope);
      if (!st.ok()) return Stop(Status(st.code(), "entry " + N(e.index) + ": " + st.message()), {});
    }
    Event event;
    event.index = e.index;
    event.leaf = e.record_bytes;
    event.leaf_hash = e.leaf_hash;
    event.record = &record;
    event.envelope = decode ? &envelope : nullptr;
    event.tree_size = e.index + 1;
    event.verified_size = tree_->verified_size();
    PROBITY_RETURN_IF_ERROR(follower_->Apply(event, out()));
    next_ = e.index + 1;
    held_.pop_front();
    ++*applied;
    ++applied_;
  }
  for (auto& cp : tree_->TakeAccepted()) verified_.push_back(std::move(cp));
  while (!verified_.empty() && verified_.front().tree_size() <= next_) {
    PROBITY_RETURN_IF_ERROR(follower_->Checkpoint(verified_.front()));
    verified_.pop_front();
    checkpoint_unsaved_ = true;
  }
  return Status::Ok();
}

StatusOr<size_t> Runtime::RunOnce() {
  if (!started_) return FailedPrecondition("the follower runtime is not started");
  PROBITY_RETURN_IF_ERROR(ReadCheckpoints());
  size_t read = 0, applied = 0;
  last_round_read_ = 0;
  PROBITY_RETURN_IF_ERROR(ReadEntries(&read));
  last_round_read_ = read;
  PROBITY_RETURN_IF_ERROR(ApplyHeld(&applied));
  if (publisher_ != nullptr) publisher_->Poll();
  const Micros now = clock_->NowMicros();
  // Nothing new for the follower (entries read only to rebuild the tree after a restart count as
  // nothing): its wall-time work (alert re-sends) must not wait for the log to move.
  if (applied == 0) PROBITY_RETURN_IF_ERROR(follower_->Idle(now, out()));
  if ((next_ != saved_next_ || checkpoint_unsaved_) && now - last_save_ >= options_.save_every) {
    PROBITY_RETURN_IF_ERROR(SaveFollower());
  }
  // The first round that grew the tree after a start writes it too, so that a follower killed
  // often still re-reads at most one life's entries at its next start (and a replica waiting for
  // a checkpoint keeps the leaves it integrated).
  if (tree_->size() != saved_tree_size_ && tree_->state().verified.size() <= durable_next_ &&
      (!tree_saved_since_start_ || now - last_tree_save_ >= options_.tree_save_every)) {
    PROBITY_RETURN_IF_ERROR(SaveTree());
  }
  Publish();
  return applied;
}

StatusOr<size_t> Runtime::Step() {
  if (step_failed_) {
    PROBITY_RETURN_IF_ERROR(Restart());
    step_failed_ = false;
  }
  StatusOr<size_t> n = RunOnce();
  step_failed_ = !n.ok();
  return n;
}

Status Runtime::SaveFollower() {
  if (publisher_ != nullptr) {
    PROBITY_RETURN_IF_ERROR(publisher_->Confirm(options_.confirm_timeout_ms));
  }
  PROBITY_RETURN_IF_ERROR(follower_->Save(next_));
  durable_next_ = saved_next_;
  saved_next_ = next_;
  checkpoint_unsaved_ = false;
  last_save_ = clock_->NowMicros();
  ++saves_;
  return Status::Ok();
}

Status Runtime::Save() {
  PROBITY_RETURN_IF_ERROR(SaveFollower());
  PROBITY_RETURN_IF_ERROR(SaveTree());
  Publish();
  return Status::Ok();
}

Status Runtime::Run(const std::atomic<bool>* stop) {
  Micros backoff = 0;
  bool published_at_start = false;
  while (!stop->load()) {
    Status st;
    if (!started_) {
      // After a failure, back to the last saved state; what was published at start is on the bus.
      st = published_at_start ? Restart() : Start();
      published_at_start = published_at_start || st.ok();
    }
    StatusOr<size_t> n = st.ok() ? RunOnce() : StatusOr<size_t>(st);
    if (!n.ok()) {
      if (!Retriable(n.status())) {
        watch_->SetBlocker(n.status().ToString());
        return n.status();
      }
      backoff = backoff == 0 ? options_.first_retry : std::min(backoff * 2, options_.max_retry);
      ++retries_;
      watch_->SetBlocker(n.status().ToString() + " (retrying)");
      std::fprintf(stderr, "probity %s: %s; retrying from the last saved state in %lld ms\n",
                   std::string(follower_->name()).c_str(), n.status().ToString().c_str(),
                   static_cast<long long>(backoff / 1000));
      for (Micros waited = 0; waited < backoff && !stop->load(); waited += 50'000) {
        watch_->Observe({next_, retries_}, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      started_ = false;
      Publish();
      continue;
    }
    if (*n > 0) backoff = 0;
    watch_->SetBlocker("");
    watch_->Observe({next_, tree_->size()}, *n > 0);
    // Rest only when the round found nothing: one that read entries still waiting for their
    // checkpoint goes straight on reading.
    if (*n == 0 && last_round_read_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return started_ ? Save() : Status::Ok();
}

void Runtime::Publish() {
  MutexLock l(&mu_);
  stats_.next_index = next_;
  stats_.applied = applied_;
  stats_.tree_size = tree_ ? tree_->size() : 0;
  stats_.verified_size = tree_ ? tree_->verified_size() : 0;
  stats_.checkpoints_verified = tree_ ? tree_->checkpoints_verified() : 0;
  stats_.published = publisher_ ? publisher_->published() : 0;
  stats_.confirmed = publisher_ ? publisher_->confirmed() : 0;
  stats_.retries = retries_;
  stats_.saves = saves_;
  if (gauges_ != nullptr) {
    gauges_->next_index.Set(static_cast<double>(stats_.next_index));
    gauges_->tree_size.Set(static_cast<double>(stats_.tree_size));
    gauges_->verified_size.Set(static_cast<double>(stats_.verified_size));
    gauges_->retries.Increment(static_cast<double>(retries_ - gauges_->counted_retries));
    gauges_->counted_retries = retries_;
  }
}

Publisher* Runtime::out() { return publisher_ != nullptr ? publisher_ : NoBus(); }

RuntimeStats Runtime::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

metrics::Health Runtime::health() const {
  RuntimeStats s = stats();
  v1::HealthReport r;
  r.set_next_index(static_cast<double>(s.next_index));
  r.set_consumed(static_cast<double>(s.applied));
  watch_->Judge(&r);
  return {r.ready(), codec::ToJson(r, codec::JsonOptions{.print_defaults = true}), r.live()};
}

}  // namespace probity::follow
