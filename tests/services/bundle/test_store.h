// Stores for dispute-bundle tests: a real LogStore written through the Sequencer, as ingest and
// the rules runner would have written it (each input entry, then the FLAG entries it raised),
// with checkpoints signed by a test log key and cosigned by test witnesses. Everything is
// deterministic: the same calls give a byte-identical store, so bundles built from it are
// byte-identical too (the fixtures depend on it).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/bus/topics.h"
#include "common/logstore/sequencer.h"
#include "common/logstore/store.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"
#include "common/note/note.h"
#include "services/generate/generator.h"
#include "services/rules/engine.h"
#include "services/rules/rule_set.h"

namespace probity::bundle::testing {

// Test keys (generated once with OpenSSL for these tests; never use them for anything real).
inline constexpr char kLogSigner[] =
    "PRIVATE+KEY+probity.test/log+3c90b7bc+AUsqWSDAIsaieABTcEHl/oZWtn3ho21e27wAIa8HDcKc";
inline constexpr char kLogVerifier[] =
    "probity.test/log+3c90b7bc+AWVnmKBrCVzspQf28l7fU/worDPeQEVqS2GUSlwUejmr";
// Another key under the log's name: what an impostor would sign with.
inline constexpr char kImpostorSigner[] =
    "PRIVATE+KEY+probity.test/log+9d599693+AY+ffukkoWCVQxCIQy1WHUUTsBPc720yXYp6s/uSmOJI";
inline constexpr char kImpostorVerifier[] =
    "probity.test/log+9d599693+AWW6pZW+LFdH1xc0374Zst8FAB+ZpghGVTAuLOOEJWAp";
// Witness keys: c2sp.org/tlog-cosignature cosignature/v1 keys (type 0x04).
inline constexpr const char* kWitnessSigners[] = {
    "PRIVATE+KEY+witness1.test+693c05c1+BPUbmuancSVzp4mfG5TlRTZiv+5T58u+LxCICl8ng7OP",
    "PRIVATE+KEY+witness2.test+4f892550+BMfczeNct2V9Ydb26kTwtdtqxA33xwq3IvMgwwAv79ac",
    "PRIVATE+KEY+witness3.test+076bac8d+BLY6ZSykx9g5nWgT0o3sU23y8ImcTSKp9+/DIt//+O+d",
};
inline constexpr const char* kWitnessVerifiers[] = {
    "witness1.test+693c05c1+BNNFlnOGSfi9628QqkZS5ahbhWhQ3lI0UwtaJG9ed150",
    "witness2.test+4f892550+BAjsTzIVISA3VMSWTB5Wv10tRPG6NXp6ifxk6CPjheQi",
    "witness3.test+076bac8d+BEa2+ct3VGsxdCXJs4L1xBCcj3aI+4PTREPYd4yGpcfI",
};
inline constexpr char kOrigin[] = "probity.test/log";

// The policy trusting the test log key and the first `witnesses` test witnesses.
inline v1::VerifierPolicy TestPolicy(int witnesses, uint32_t quorum) {
  v1::VerifierPolicy p;
  p.set_log_origin(kOrigin);
  p.set_log_vkey(kLogVerifier);
  for (int i = 0; i < witnesses; ++i) {
    auto* w = p.add_witnesses();
    w->set_name("witness" + std::to_string(i + 1) + ".test");
    w->set_vkey(kWitnessVerifiers[i]);
  }
  p.set_quorum(quorum);
  return p;
}

inline note::Signer MustSigner(const char* key, uint8_t alg = note::kAlgEd25519) {
  auto s = note::Signer::FromSignerKey(key, alg);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

inline note::Signer MustWitness(int i) {
  return MustSigner(kWitnessSigners[i], note::kAlgCosignatureV1);
}

// The checkpoint of (size, root) signed by `log` and cosigned (cosignature/v1, at a timestamp
// fixed by the size) by every one of `witnesses`: the note text, a blank line, then one
// signature line a key, the log's first.
inline std::string SignedCheckpoint(uint64_t size, const merkle::Hash& root,
                                    const note::Signer& log,
                                    const std::vector<note::Signer>& witnesses) {
  note::Checkpoint c{kOrigin, size, root, {}};
  const std::string text = note::FormatCheckpoint(c);
  auto out = log.Sign(text);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  for (const auto& w : witnesses) {
    auto line = note::Cosign(w, text, 1700000000 + size);
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    *out += *line;
  }
  return *out;
}

// Writes a log as ingest and the rules would: Add() sequences an input envelope, runs the rules
// engine on it and sequences the flags it raises right after it.
class StoreWriter {
 public:
  // REQUIRES: dir does not hold a store yet.
  StoreWriter(const std::string& dir, const rules::RuleSet& rule_set, int cosigners)
      : rule_set_(rule_set) {
    auto store = logstore::LogStore::Open(dir, {});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto seq = logstore::Sequencer::Create(store_.get());
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    seq_ = std::move(seq).value();
    auto engine = rules::Engine::Create(rule_set);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    log_ = MustSigner(kLogSigner);
    for (int i = 0; i < cosigners; ++i) witnesses_.push_back(MustWitness(i));
  }

  // The rule-set publication, as the rules runner sends it at start.
  void PublishRuleSet(int64_t at_seconds) {
    Add(bus::kRuleSetsTopic, "", rules::MakeRuleSetEnvelope(rule_set_, at_seconds * 1000000),
        at_seconds);
  }

  // One input entry (received 5 minutes after it occurred) and the flags it raises.
  void Add(std::string_view topic, std::string_view key, const v1::Envelope& env) {
    Add(topic, key, env, env.occurred_at().seconds() + 300);
  }

  void Add(std::string_view topic, std::string_view key, const v1::Envelope& env,
           int64_t received_at) {
    v1::LogRecord r;
    env.SerializeToString(r.mutable_payload());
    // What the sequencer does with an event id seen before: drop an exact redelivery, mark
    // other bytes as a conflicting resubmission (the engine must see the record as stored).
    auto [seen, fresh] = first_.try_emplace(env.event_id(), next_, std::set<std::string>{});
    if (!fresh) {
      if (seen->second.second.count(r.payload())) return;
      r.set_conflicting_resubmission(true);
      r.set_first_index_of_event_id(seen->second.first);
    }
    seen->second.second.insert(r.payload());
    r.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
    r.set_topic(std::string(topic));
    r.set_offset(static_cast<int64_t>(next_));
    r.set_event_id(env.event_id());
    r.set_kind(env.kind());
    r.set_practice_code(env.practice_code());
    *r.mutable_occurred_at() = env.occurred_at();
    r.mutable_received_at()->set_seconds(received_at);
    r.set_message_key(std::string(key));
    std::vector<v1::Envelope> flags;
    EXPECT_TRUE(engine_->Process(rules::LogEvent{next_++, r, env}, &flags).ok());
    batch_.push_back(std::move(r));
    for (auto& f : flags) {
      if (tamper_flags) tamper_flags(f);
      v1::LogRecord fr;
      fr.set_payload(rules::SerializeDeterministic(f));
      fr.set_content_type(v1::CONTENT_TYPE_PROTOBUF);
      fr.set_topic(std::string(bus::kFlagsTopic));
      fr.set_event_id(f.event_id());
      fr.set_kind(f.kind());
      fr.set_practice_code(f.practice_code());
      *fr.mutable_occurred_at() = f.occurred_at();
      *fr.mutable_received_at() = f.occurred_at();
      std::vector<v1::Envelope> none;
      EXPECT_TRUE(engine_->Process(rules::LogEvent{next_++, fr, f}, &none).ok());
      batch_.push_back(std::move(fr));
      ++flags_;
    }
    if (batch_.size() >= 4096) Flush();
  }

  // Sequences what is pending and signs a checkpoint of the whole log.
  void Checkpoint() {
    Flush();
    v1::CheckpointRecord c;
    c.set_tree_size(seq_->size());
    const merkle::Hash root = seq_->root();
    c.set_root_hash(std::string(merkle::AsBytes(root)));
    c.set_signed_note(SignedCheckpoint(seq_->size(), root, log_, witnesses_));
    c.mutable_created_at()->set_seconds(1700000000 + static_cast<int64_t>(seq_->size()));
    EXPECT_TRUE(seq_->AddCheckpoint(c).ok());
  }

  void Flush() {
    if (batch_.empty()) return;
    auto r = seq_->Append(&batch_, {}, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->appended, batch_.size()) << "an entry was a redelivery";
    batch_.clear();
  }

  // When set, each flag the engine raises is passed through it before it is logged: how a test
  // logs a flag its evidence does not support.
  std::function<void(v1::Envelope&)> tamper_flags;

  uint64_t size() const { return next_; }
  uint64_t flags() const { return flags_; }
  logstore::LogStore* store() { return store_.get(); }

 private:
  rules::RuleSet rule_set_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<logstore::Sequencer> seq_;
  std::unique_ptr<rules::Engine> engine_;
  note::Signer log_ = MustSigner(kLogSigner);
  std::vector<note::Signer> witnesses_;
  std::vector<v1::LogRecord> batch_;
  std::map<std::string, std::pair<uint64_t, std::set<std::string>>>
      first_;  // id -> first, payloads
  uint64_t next_ = 0;
  uint64_t flags_ = 0;
};

// Feeds a generated scenario into a StoreWriter, signing a checkpoint every `checkpoint_every`
// entries and at the end.
class GeneratedFeed final : public generate::Sink {
 public:
  GeneratedFeed(StoreWriter* w, uint64_t checkpoint_every)
      : w_(w), every_(checkpoint_every), next_checkpoint_(checkpoint_every) {}
  Status Emit(std::string_view topic, std::string_view key, const v1::Envelope& env) override {
    w_->Add(topic, key, env);
    if (w_->size() >= next_checkpoint_) {
      w_->Checkpoint();
      next_checkpoint_ = w_->size() + every_;
    }
    return Status::Ok();
  }

 private:
  StoreWriter* w_;
  uint64_t every_;
  uint64_t next_checkpoint_;
};

}  // namespace probity::bundle::testing
