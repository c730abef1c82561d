#include "services/rules/runner.h"

#include <filesystem>
#include <fstream>

#include "common/bus/topics.h"

namespace probity::rules {

RulesFollower::RulesFollower(std::string state_dir, RuleSet rule_set, Micros started_at)
    : state_dir_(std::move(state_dir)), rule_set_(std::move(rule_set)), started_at_(started_at) {}

RulesFollower::~RulesFollower() = default;

// The rules target logs each peer baseline before the first flag judged against it (docs/rules.md,
// "Peer baselines in the log"), so that a flag's baseline is provable.
constexpr EngineOptions kEngineOptions{.log_baselines = true};

StatusOr<uint64_t> RulesFollower::Restore() {
  (void)saver_.Wait();  // what it failed to write is evaluated again
  if (state_ == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(state_dir_, ec);
    if (ec) return IoError("cannot create " + state_dir_ + ": " + ec.message());
    PROBITY_ASSIGN_OR_RETURN(state_, StateStore::Open(state_dir_ + "/state"));
  }
  PROBITY_ASSIGN_OR_RETURN(engine_, Engine::Create(rule_set_, kEngineOptions));
  Status loaded = state_->Load(engine_.get());
  if (!loaded.ok() && loaded.code() != Code::kNotFound) {
    // Saved state of another rule set (or none usable): evaluate the whole log again.
    PROBITY_ASSIGN_OR_RETURN(engine_, Engine::Create(rule_set_, kEngineOptions));
  }
  const uint64_t next = engine_->has_processed() ? engine_->last_index() + 1 : 0;
  MutexLock l(&mu_);
  stats_.next_index = next;
  return next;
}

Status RulesFollower::PublishAtStart(follow::Publisher* out) {
  // The rule set is published at every start, with the time of its first publication (kept in a
  // file beside the state) so that the bytes are the same each time: ingest logs it once and
  // drops the repeats. Publishing only once would lose it if the bus lost the message before
  // ingest read it (an embedded bus that stopped, say). The time is saved BEFORE the first
  // publication, so that a kill between the bus taking the rule set and any later save cannot
  // make the next start publish it with another time (a conflicting resubmission).
  const std::string marker = state_dir_ + "/published-" + rule_set_.sha256_hex;
  Micros published_at = started_at_;
  if (std::ifstream in(marker); in) {
    in >> published_at;
    if (!in) return DataLoss("unreadable rule-set publication time in " + marker);
  } else {
    PROBITY_RETURN_IF_ERROR(follow::WriteFileDurably(marker, std::to_string(published_at) + "\n"));
  }
  v1::Envelope env = MakeRuleSetEnvelope(rule_set_, published_at);
  return out->Publish(bus::kRuleSetsTopic, rule_set_.sha256_hex, env.SerializeAsString());
}

Status RulesFollower::Apply(const follow::Event& event, follow::Publisher* out) {
  flags_.clear();
  PROBITY_RETURN_IF_ERROR(
      engine_->Process(LogEvent{event.index, *event.record, *event.envelope}, &flags_));
  for (const v1::Envelope& f : flags_) {
    PROBITY_RETURN_IF_ERROR(
        out->Publish(bus::kFlagsTopic, f.practice_code(), SerializeDeterministic(f)));
  }
  MutexLock l(&mu_);
  ++stats_.processed;
  stats_.next_index = event.index + 1;
  for (const v1::Envelope& f : flags_) {
    if (f.kind() != v1::EVENT_KIND_FLAG) continue;  // a Baseline the flags after it name
    ++stats_.flags_by_kind[f.flag().rule_kind()];
    ++stats_.flags;
  }
  return Status::Ok();
}

Status RulesFollower::Save(uint64_t next_index) {
  PROBITY_RETURN_IF_ERROR(WaitForSave());
  if (!engine_->has_processed()) return Status::Ok();
  if (engine_->last_index() + 1 != next_index) {
    return Internal("rules: asked to save at " + std::to_string(next_index) +
                    " but the engine is at " + std::to_string(engine_->last_index() + 1));
  }
  auto snap = std::make_shared<EngineSnapshot>(engine_->Snapshot());
  return saver_.Start([this, snap] { return state_->SaveSnapshot(*snap); });
}

Status RulesFollower::WaitForSave() { return saver_.Wait(); }

RulesStats RulesFollower::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

RulesRunner::RulesRunner(Options options, RuleSet rule_set, follow::EntrySource* source,
                         bus::BusFactory* bus, const Clock* clock)
    : options_(std::move(options)),
      rule_set_(std::move(rule_set)),
      source_(source),
      bus_(bus),
      clock_(clock != nullptr ? clock : &system_clock_) {}

RulesRunner::~RulesRunner() = default;

Status RulesRunner::Start(Micros now) {
  PROBITY_ASSIGN_OR_RETURN(publisher_, follow::BusPublisher::Create(bus_));
  follower_ = std::make_unique<RulesFollower>(options_.state_dir, rule_set_, now);
  follow::Runtime::Options o;
  o.data_dir = options_.state_dir + "/follow";
  o.origin = options_.origin;
  o.log_keys = options_.log_keys;
  o.max_batch = options_.max_batch;
  o.save_every = Micros{options_.save_every_ms} * 1000;
  o.registry = options_.registry;
  runtime_ = std::make_unique<follow::Runtime>(o, follower_.get(), source_, options_.checkpoints,
                                               publisher_.get(), clock_);
  PROBITY_RETURN_IF_ERROR(runtime_->Start());
  // The first flag must not wait for a leader lookup.
  return publisher_->WarmUp(std::string(bus::kFlagsTopic), 10000);
}

StatusOr<size_t> RulesRunner::RunOnce() { return runtime_->RunOnce(); }

Status RulesRunner::Run(const std::atomic<bool>* stop) {
  Status st = runtime_->Run(stop);
  Status saved = follower_->WaitForSave();
  return st.ok() ? saved : st;
}

Status RulesRunner::Checkpoint() {
  PROBITY_RETURN_IF_ERROR(runtime_->Save());
  return follower_->WaitForSave();
}

RulesStats RulesRunner::stats() const { return follower_ ? follower_->stats() : RulesStats{}; }

follow::RuntimeStats RulesRunner::runtime_stats() const {
  return runtime_ ? runtime_->stats() : follow::RuntimeStats{};
}

metrics::Health RulesRunner::health() const {
  if (!runtime_) return {false, "{}", true};
  return runtime_->health();
}

}  // namespace probity::rules
