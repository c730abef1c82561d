#include "services/cli/rules_runner.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/bus/topics.h"
#include "common/codec/codec.h"
#include "common/logstore/keys.h"
#include "common/merkle/hasher.h"

namespace probity::cli {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RulesRunner::~RulesRunner() {
  if (saver_.joinable()) saver_.join();
}

RulesRunner::RulesRunner(Options options, rules::RuleSet rule_set, EntrySource* source,
                         bus::Producer* producer, const Clock* clock)
    : options_(std::move(options)),
      rule_set_(std::move(rule_set)),
      source_(source),
      producer_(producer),
      clock_(clock != nullptr ? clock : &system_clock_),
      watch_(std::make_unique<metrics::ProgressWatch>("rules", clock_)) {}

Status RulesRunner::Start(Micros now) {
  std::filesystem::create_directories(options_.state_dir);
  PROBITY_ASSIGN_OR_RETURN(state_, rules::StateStore::Open(options_.state_dir + "/state"));
  PROBITY_ASSIGN_OR_RETURN(engine_, rules::Engine::Create(rule_set_));
  Status loaded = state_->Load(engine_.get());
  if (!loaded.ok() && loaded.code() != Code::kNotFound) {
    // Saved state of another rule set (or none usable): evaluate the whole log again.
    PROBITY_ASSIGN_OR_RETURN(engine_, rules::Engine::Create(rule_set_));
  }
  next_ = engine_->has_processed() ? engine_->last_index() + 1 : 0;
  {
    MutexLock l(&mu_);
    stats_.next_index = next_;
  }
  // Publish the rule set at every start, with the time of its first publication (kept in a file
  // beside the state) so that the bytes are the same each time: ingest logs it once and drops
  // the repeats as exact redeliveries. Publishing only once would lose it if the bus lost the
  // message before ingest read it (an embedded bus that stopped, say).
  std::string marker = options_.state_dir + "/published-" + rule_set_.sha256_hex;
  Micros published_at = now;
  if (std::ifstream in(marker); in) {
    in >> published_at;
    if (!in) return DataLoss("unreadable rule-set publication time in " + marker);
  }
  // The time is saved BEFORE the first publication, so that a kill between the bus taking the
  // rule set and the save cannot make the next start publish it with another time (ingest would
  // log that as a conflicting resubmission).
  if (published_at == now) {
    const std::string tmp = marker + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << published_at << "\n";
      out.flush();
      if (!out) return IoError("cannot write " + tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, marker, ec);
    if (ec) return IoError("cannot rename " + tmp + ": " + ec.message());
  }
  v1::Envelope env = rules::MakeRuleSetEnvelope(rule_set_, published_at);
  PROBITY_RETURN_IF_ERROR(
      producer_->Produce(bus::kRuleSetsTopic, 0, rule_set_.sha256_hex, env.SerializeAsString()));
  PROBITY_RETURN_IF_ERROR(producer_->Flush(30000));
  PROBITY_RETURN_IF_ERROR(producer_->TakeDeliveryFailure());
  // The first flag must not wait for a leader lookup.
  PROBITY_RETURN_IF_ERROR(producer_->WarmUp(std::string(bus::kFlagsTopic), 10000));
  last_save_ms_ = SteadyMs();
  return Status::Ok();
}

StatusOr<size_t> RulesRunner::RunOnce() {
  std::vector<logstore::Entry> entries;
  PROBITY_RETURN_IF_ERROR(source_->Read(next_, options_.max_batch, &entries));
  std::vector<v1::Envelope> flags;
  v1::LogRecord record;
  std::map<std::string, uint64_t> raised;
  for (const logstore::Entry& e : entries) {
    if (!record.ParseFromString(e.record_bytes)) {
      return DataLoss("entry " + std::to_string(e.index) + " does not parse as a LogRecord");
    }
    PROBITY_ASSIGN_OR_RETURN(v1::Envelope env, DecodeRecordEnvelope(record));
    flags.clear();
    PROBITY_RETURN_IF_ERROR(engine_->Process(rules::LogEvent{e.index, record, env}, &flags));
    for (const v1::Envelope& f : flags) {
      PROBITY_RETURN_IF_ERROR(producer_->Produce(bus::kFlagsTopic, 0, f.practice_code(),
                                                 rules::SerializeDeterministic(f)));
      ++raised[f.flag().rule_kind()];
    }
    next_ = e.index + 1;
  }
  producer_->Poll(0);
  {
    MutexLock l(&mu_);
    stats_.processed += entries.size();
    stats_.next_index = next_;
    for (const auto& [k, n] : raised) {
      stats_.flags_by_kind[k] += n;
      stats_.flags += n;
    }
  }
  if (SteadyMs() - last_save_ms_ >= options_.save_every_ms) {
    PROBITY_RETURN_IF_ERROR(Checkpoint(/*wait=*/false));
  }
  return entries.size();
}

Status RulesRunner::Checkpoint(bool wait) {
  // Flags first: a state that says "evaluated up to i" MUST NOT be saved before every flag raised
  // up to i is confirmed on the bus.
  PROBITY_RETURN_IF_ERROR(producer_->Flush(30000));
  PROBITY_RETURN_IF_ERROR(producer_->TakeDeliveryFailure());
  if (saver_.joinable()) saver_.join();
  PROBITY_RETURN_IF_ERROR(save_status_);
  last_save_ms_ = SteadyMs();
  if (!engine_->has_processed()) return Status::Ok();
  auto snap = std::make_shared<rules::EngineSnapshot>(engine_->Snapshot());
  if (wait) {
    save_status_ = state_->SaveSnapshot(*snap);
    return save_status_;
  }
  saver_ = std::thread([this, snap] { save_status_ = state_->SaveSnapshot(*snap); });
  return Status::Ok();
}

bool RulesRunner::Retriable(const Status& st) {
  return st.code() == Code::kUnavailable || st.code() == Code::kOutOfRange ||
         st.code() == Code::kFailedPrecondition;
}

Status RulesRunner::Restart() {
  if (saver_.joinable()) saver_.join();
  save_status_ = Status::Ok();
  (void)producer_->Flush(30000);
  (void)producer_->TakeDeliveryFailure();
  PROBITY_ASSIGN_OR_RETURN(engine_, rules::Engine::Create(rule_set_));
  Status loaded = state_->Load(engine_.get());
  if (!loaded.ok() && loaded.code() != Code::kNotFound) {
    PROBITY_ASSIGN_OR_RETURN(engine_, rules::Engine::Create(rule_set_));
  }
  next_ = engine_->has_processed() ? engine_->last_index() + 1 : 0;
  source_->Reset();
  MutexLock l(&mu_);
  stats_.next_index = next_;
  return Status::Ok();
}

Status RulesRunner::Run(const std::atomic<bool>* stop) {
  Micros backoff = 0;
  while (!stop->load()) {
    StatusOr<size_t> n = RunOnce();
    if (!n.ok()) {
      if (!Retriable(n.status())) return n.status();
      // Wait, then go back to the last saved state: nothing after it was confirmed, so nothing
      // is lost, and flags raised again are the same bytes (ingest drops the repeats).
      backoff = backoff == 0 ? 1'000'000 : std::min<Micros>(backoff * 2, 60'000'000);
      ++retries_;
      watch_->SetBlocker(n.status().ToString() + " (retrying)");
      std::fprintf(stderr, "probity rules: %s; retrying from the last saved state in %lld ms\n",
                   n.status().ToString().c_str(), static_cast<long long>(backoff / 1000));
      for (Micros waited = 0; waited < backoff && !stop->load(); waited += 50'000) {
        watch_->Observe({next_, retries_}, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      PROBITY_RETURN_IF_ERROR(Restart());
      continue;
    }
    if (*n > 0) backoff = 0;
    watch_->SetBlocker("");
    watch_->Observe({next_}, *n > 0);
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Checkpoint();
}

metrics::Health RulesRunner::health() const {
  RulesStats s = stats();
  v1::HealthReport r;
  r.set_next_index(static_cast<double>(s.next_index));
  r.set_consumed(static_cast<double>(s.processed));
  watch_->Judge(&r);
  return {r.ready(), codec::ToJson(r, codec::JsonOptions{.print_defaults = true}), r.live()};
}

RulesStats RulesRunner::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

}  // namespace probity::cli
