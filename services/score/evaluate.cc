#include "services/score/evaluate.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "common/bus/topics.h"
#include "probity/v1/log.pb.h"
#include "services/rules/engine.h"

namespace probity::score {
namespace {

// Feeds each generated envelope to the engine as the sequenced entry ingest would write, and
// each flag the engine raises back as a FLAG entry.
class EngineSink final : public generate::Sink {
 public:
  EngineSink(rules::Engine* engine, const EvaluateOptions& options, std::vector<v1::Envelope>* kept,
             std::map<std::string, PracticeStats>* stats)
      : engine_(engine), options_(options), kept_(kept), stats_(stats) {}

  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& envelope) override {
    record_.Clear();
    envelope.SerializeToString(record_.mutable_payload());
    record_.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    record_.set_topic(std::string(topic));
    record_.set_offset(input_events_);
    record_.set_event_id(envelope.event_id());
    record_.set_kind(envelope.kind());
    record_.set_practice_code(envelope.practice_code());
    *record_.mutable_occurred_at() = envelope.occurred_at();
    record_.mutable_received_at()->set_seconds(envelope.occurred_at().seconds() +
                                               options_.receive_delay_seconds);
    record_.set_message_key(std::string(key));
    ++input_events_;
    if (stats_ != nullptr) TallyEnvelope(envelope, stats_);
    return Append(record_, envelope);
  }

  // Appends the rule-set publication (the log's first entry in production).
  Status PublishRuleSet(const rules::RuleSet& rule_set, int64_t at_micros) {
    v1::Envelope env = rules::MakeRuleSetEnvelope(rule_set, at_micros);
    v1::LogRecord rec;
    env.SerializeToString(rec.mutable_payload());
    rec.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    rec.set_topic(std::string(bus::kRuleSetsTopic));
    rec.set_event_id(env.event_id());
    rec.set_kind(env.kind());
    *rec.mutable_occurred_at() = env.occurred_at();
    *rec.mutable_received_at() = env.occurred_at();
    return Append(rec, env);
  }

  int64_t input_events() const { return input_events_; }
  uint64_t next_index() const { return next_index_; }
  int64_t flag_count() const { return flag_count_; }
  int64_t baseline_count() const { return baseline_count_; }

 private:
  Status Append(const v1::LogRecord& record, const v1::Envelope& envelope) {
    flags_.clear();
    PROBITY_RETURN_IF_ERROR(
        engine_->Process(rules::LogEvent{next_index_++, record, envelope}, &flags_));
    // Flags come back through ingest as FLAG entries, after the entry that raised them.
    for (size_t i = 0; i < flags_.size(); ++i) {
      v1::Envelope flag = std::move(flags_[i]);
      v1::LogRecord fr;
      flag.SerializeToString(fr.mutable_payload());
      fr.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
      fr.set_topic(std::string(bus::kFlagsTopic));
      fr.set_event_id(flag.event_id());
      fr.set_kind(flag.kind());
      fr.set_practice_code(flag.practice_code());
      *fr.mutable_occurred_at() = flag.occurred_at();
      *fr.mutable_received_at() = flag.occurred_at();
      std::vector<v1::Envelope> none;
      PROBITY_RETURN_IF_ERROR(engine_->Process(rules::LogEvent{next_index_++, fr, flag}, &none));
      if (!none.empty()) return Internal("evaluate: a FLAG entry raised further flags");
      if (flag.kind() != v1::EVENT_KIND_FLAG) {
        ++baseline_count_;
        continue;
      }
      ++flag_count_;
      if (kept_ != nullptr) kept_->push_back(std::move(flag));
    }
    return Status::Ok();
  }

  rules::Engine* engine_;
  EvaluateOptions options_;
  std::vector<v1::Envelope>* kept_;
  std::map<std::string, PracticeStats>* stats_;
  std::vector<v1::Envelope> flags_;
  v1::LogRecord record_;
  uint64_t next_index_ = 0;
  int64_t input_events_ = 0;
  int64_t flag_count_ = 0;
  int64_t baseline_count_ = 0;
};

std::string Fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.4g", v);
  return b;
}

}  // namespace

StatusOr<Evaluation> Evaluate(const std::vector<generate::PracticeRecord>& reference,
                              const generate::GeneratorParams& params,
                              const rules::RuleSet& rule_set, const generate::ProgressFn& progress,
                              const EvaluateOptions& options) {
  PROBITY_ASSIGN_OR_RETURN(auto gen, generate::Generator::Create(reference, params));
  rules::EngineOptions engine_options;
  engine_options.log_baselines = options.log_baselines;
  PROBITY_ASSIGN_OR_RETURN(auto engine, rules::Engine::Create(rule_set, engine_options));
  Evaluation out;
  std::vector<v1::Envelope> flags;
  std::map<std::string, PracticeStats> stats;
  EngineSink sink(engine.get(), options, &flags, params.graded ? &stats : nullptr);
  PROBITY_RETURN_IF_ERROR(sink.PublishRuleSet(rule_set, params.start));
  PROBITY_RETURN_IF_ERROR(gen->Run(&sink, progress));
  out.truth = gen->truth();
  out.practices = gen->practice_codes();
  ScoreOptions so;
  so.practices = out.practices;
  out.report = Score(out.truth, flags, so);
  out.input_events = sink.input_events();
  out.log_entries = static_cast<int64_t>(sink.next_index());
  out.baselines = sink.baseline_count();
  if (params.graded) {
    out.power = PowerCurves(out.truth, flags, out.practices, stats, PowerOptionsFor(rule_set));
  }

  // Plans of practices flagged for a kind they were not given (false positives).
  std::set<std::pair<std::string, std::string>> truth_pairs;
  for (const auto& t : out.truth) truth_pairs.emplace(t.practice_code, t.rule_kind);
  std::set<std::string> described;
  for (const auto& f : flags) {
    if (truth_pairs.count({f.practice_code(), f.flag().rule_kind()})) continue;
    if (described.insert(f.practice_code()).second) {
      out.flagged_practice_plans.emplace_back(f.practice_code(),
                                              gen->DescribePractice(f.practice_code()));
    }
  }
  for (const auto& t : out.truth) {
    if (described.insert(t.practice_code).second) {
      out.flagged_practice_plans.emplace_back(t.practice_code,
                                              gen->DescribePractice(t.practice_code));
    }
  }
  if (options.keep_flags) out.flags = std::move(flags);
  return out;
}

StatusOr<ScoreReport> EvaluateScenario(const generate::GeneratorParams& params,
                                       const rules::RuleSet& rule_set,
                                       const generate::ProgressFn& progress) {
  PROBITY_ASSIGN_OR_RETURN(auto reference,
                           generate::LoadReference(generate::DefaultReferenceCsvPath()));
  EvaluateOptions options;
  options.keep_flags = false;
  PROBITY_ASSIGN_OR_RETURN(auto evaluation,
                           Evaluate(reference, params, rule_set, progress, options));
  return std::move(evaluation.report);
}

std::string FormatDiagnostics(const Evaluation& ev) {
  std::map<std::string, std::string> plans(ev.flagged_practice_plans.begin(),
                                           ev.flagged_practice_plans.end());
  std::set<std::pair<std::string, std::string>> truth_pairs;
  for (const auto& t : ev.truth) truth_pairs.emplace(t.practice_code, t.rule_kind);
  // (practice, kind) -> the ids of the rules that flagged it, in first-flag order.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> found;
  std::string out;
  std::set<std::pair<std::string, std::string>> printed;  // (practice, rule id): first flag only
  for (const auto& f : ev.flags) {
    const auto& fl = f.flag();
    auto& ids = found[{f.practice_code(), fl.rule_kind()}];
    if (std::find(ids.begin(), ids.end(), fl.rule_id()) == ids.end()) ids.push_back(fl.rule_id());
    if (truth_pairs.count({f.practice_code(), fl.rule_kind()})) continue;
    if (!printed.emplace(f.practice_code(), fl.rule_id()).second) continue;
    out += "FP " + fl.rule_kind() + " " + f.practice_code() + " observed " + Fmt(fl.observed()) +
           " expected " + Fmt(fl.expected()) + " limits [" + Fmt(fl.lower_limit()) + ", " +
           Fmt(fl.upper_limit()) + "]" +
           (fl.has_baseline() ? " group " + fl.baseline().group() : "") + " rule " + fl.rule_id() +
           "\n   " + fl.summary() + "\n   plan: " + plans[f.practice_code()] + "\n";
  }
  for (const auto& t : ev.truth) {
    auto it = found.find({t.practice_code, t.rule_kind});
    if (it != found.end()) {
      // Which rules found it: a rule set may hold several rules of one kind (tuning variants).
      out += "TP " + t.rule_kind + " " + t.practice_code;
      if (!t.pattern.empty()) out += " pattern " + t.pattern;
      if (t.magnitude != 0) out += " magnitude " + Fmt(t.magnitude);
      out += " rules";
      for (const auto& id : it->second) out += " " + id;
      if (!t.undetectable.empty()) out += " (undetectable by design: not scored)";
      out += "\n";
      continue;
    }
    if (!t.undetectable.empty()) {
      out += "UNDETECTABLE " + t.rule_kind + " " + t.practice_code + ": " + t.undetectable + "\n";
      continue;
    }
    out += "FN " + t.rule_kind + " " + t.practice_code + ": " + t.detail +
           "\n   plan: " + plans[t.practice_code] + "\n";
  }
  return out;
}

}  // namespace probity::score
