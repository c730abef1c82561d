// Build: a dispute bundle from the log.
#include <algorithm>
#include <set>

#include "common/merkle/hasher.h"
#include "common/note/policy.h"
#include "services/bundle/bundle.h"
#include "services/bundle/reevaluate.h"

namespace probity::bundle {
namespace {

using internal::DecodedEntry;

std::string AsString(const merkle::Hash& h) { return std::string(merkle::AsBytes(h)); }

// Entry `index` with its inclusion proof in the tree of `size`.
StatusOr<v1::EntryProof> ProveEntry(const logstore::LogReader& reader, uint64_t index,
                                    uint64_t size) {
  PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(index));
  PROBITY_ASSIGN_OR_RETURN(auto path, reader.InclusionProof(index, size));
  v1::EntryProof out;
  out.set_index(index);
  out.set_leaf(std::move(e.record_bytes));
  auto* p = out.mutable_proof();
  p->set_leaf_index(index);
  p->set_tree_size(size);
  p->set_leaf_hash(AsString(merkle::HashLeaf(out.leaf())));
  for (const auto& h : path) p->add_hashes(AsString(h));
  return out;
}

// The first entry with this event id and kind, below `before`; nullopt when none.
StatusOr<std::optional<DecodedEntry>> FindEntry(const logstore::LogReader& reader,
                                                const std::string& event_id, v1::EventKind kind,
                                                uint64_t before) {
  PROBITY_ASSIGN_OR_RETURN(auto found, reader.FindByEventId(event_id));
  for (uint64_t i : found) {
    if (i >= before) break;
    PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(i));
    PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, internal::DecodeEntry(i, e.record_bytes));
    if (d.record.kind() == kind) return std::optional<DecodedEntry>(std::move(d));
  }
  return std::optional<DecodedEntry>();
}

// The practice's latest PRACTICE_UPDATE entry below `before` (in event time, then index), whose
// register facts (ICB, list size) the rules read when they judged; nullopt when none.
StatusOr<std::optional<uint64_t>> LatestRegisterEntry(const logstore::LogReader& reader,
                                                      const std::string& practice,
                                                      int64_t until_micros, uint64_t before) {
  PROBITY_ASSIGN_OR_RETURN(auto found,
                           reader.FindByPractice(practice, INT64_MIN, until_micros, SIZE_MAX));
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    if (*it >= before) continue;
    PROBITY_ASSIGN_OR_RETURN(logstore::Entry e, reader.Get(*it));
    v1::LogRecord r;
    if (!r.ParseFromString(e.record_bytes)) {
      return DataLoss("entry " + std::to_string(*it) + " does not parse");
    }
    if (r.kind() == v1::EVENT_KIND_PRACTICE_UPDATE) return std::optional<uint64_t>(*it);
  }
  return std::optional<uint64_t>();
}

v1::Checkpoint CheckpointMessage(const v1::CheckpointRecord& rec,
                                 const note::TrustedCheckpoint& opened) {
  v1::Checkpoint c;
  c.set_origin(opened.checkpoint.origin);
  c.set_tree_size(opened.checkpoint.size);
  c.set_root_hash(AsString(opened.checkpoint.root));
  c.set_signed_note(rec.signed_note());
  for (const auto& w : opened.cosigned) c.add_witnesses(w);
  return c;
}

}  // namespace

StatusOr<v1::DisputeBundle> Build(const logstore::LogReader& reader, std::string_view flag_id,
                                  const BuildOptions& options) {
  PROBITY_ASSIGN_OR_RETURN(note::TrustPolicy trust, note::TrustPolicy::Create(options.policy));
  PROBITY_ASSIGN_OR_RETURN(uint64_t size, reader.TreeSize());

  // The flag.
  PROBITY_ASSIGN_OR_RETURN(auto flag_entry,
                           FindEntry(reader, std::string(flag_id), v1::EVENT_KIND_FLAG, size));
  if (!flag_entry) return NotFound("no FLAG entry with id '" + std::string(flag_id) + "'");
  const v1::Flag& flag = flag_entry->envelope.flag();
  if (flag.flag_id() != flag_id) {
    return DataLoss("entry " + std::to_string(flag_entry->index) + " has event id " +
                    std::string(flag_id) + " but flag id " + flag.flag_id());
  }

  // One checkpoint for every proof: the latest, which must cover the flag entry.
  PROBITY_ASSIGN_OR_RETURN(auto latest, reader.LatestCheckpoint());
  if (!latest || latest->tree_size() <= flag_entry->index) {
    return FailedPrecondition("no signed checkpoint covers the flag entry " +
                              std::to_string(flag_entry->index) + " yet (latest checkpoint size " +
                              std::to_string(latest ? latest->tree_size() : 0) + ")");
  }
  auto opened = trust.Open(latest->signed_note());
  if (!opened.ok()) {
    return FailedPrecondition("the latest checkpoint does not meet the policy: " +
                              opened.status().message());
  }
  const uint64_t cp_size = opened->checkpoint.size;

  v1::DisputeBundle b;
  b.set_format(std::string(kFormat));
  b.set_version(kVersion);
  b.set_flag_id(std::string(flag_id));
  *b.mutable_checkpoint() = CheckpointMessage(*latest, *opened);
  PROBITY_ASSIGN_OR_RETURN(*b.mutable_flag(), ProveEntry(reader, flag_entry->index, cp_size));

  // The rule set it was judged under.
  PROBITY_ASSIGN_OR_RETURN(auto rule_set, FindEntry(reader, "ruleset-" + flag.rule_set_hash(),
                                                    v1::EVENT_KIND_RULE_SET, flag_entry->index));
  if (!rule_set) return NotFound("no RULE_SET entry for rule set " + flag.rule_set_hash());
  PROBITY_ASSIGN_OR_RETURN(*b.mutable_rule_set(), ProveEntry(reader, rule_set->index, cp_size));

  // The baseline, where the rules logged one.
  if (!flag.baseline_id().empty()) {
    PROBITY_ASSIGN_OR_RETURN(auto baseline, FindEntry(reader, flag.baseline_id(),
                                                      v1::EVENT_KIND_BASELINE, flag_entry->index));
    if (!baseline) return NotFound("no BASELINE entry with id " + flag.baseline_id());
    PROBITY_ASSIGN_OR_RETURN(*b.mutable_baseline(), ProveEntry(reader, baseline->index, cp_size));
  }

  // The evidence, in the flag's order.
  std::set<uint64_t> replay;
  for (const auto& ev : flag.evidence()) {
    if (ev.log_index() >= flag_entry->index) {
      return DataLoss("flag evidence index " + std::to_string(ev.log_index()) +
                      " is not before the flag entry " + std::to_string(flag_entry->index));
    }
    PROBITY_ASSIGN_OR_RETURN(*b.add_evidence(), ProveEntry(reader, ev.log_index(), cp_size));
    replay.insert(ev.log_index());
  }

  // The re-evaluation manifest, and the context entries a replay feeds besides the evidence.
  auto* m = b.mutable_manifest();
  m->set_method(internal::MethodFor(flag.rule_kind()));
  m->set_rule_id(flag.rule_id());
  m->set_rule_version(flag.rule_version());
  m->set_rule_kind(flag.rule_kind());
  m->set_rule_set_sha256_hex(flag.rule_set_hash());
  m->set_judged_at_tree_size(flag.judged_at_tree_size());
  m->set_engine(std::string(internal::kEngine));
  if (m->method() == v1::REEVALUATION_METHOD_REPLAY) {
    const uint64_t judged = flag.judged_at_tree_size();
    if (judged == 0 || judged > flag_entry->index) {
      return DataLoss("flag judged at tree size " + std::to_string(judged) +
                      " is not before its entry " + std::to_string(flag_entry->index));
    }
    std::set<uint64_t> context;
    context.insert(judged - 1);  // the entry whose arrival raised the flag
    const auto& occurred = flag_entry->envelope.occurred_at();
    PROBITY_ASSIGN_OR_RETURN(
        auto reg,
        LatestRegisterEntry(reader, flag_entry->envelope.practice_code(),
                            occurred.seconds() * 1000000 + occurred.nanos() / 1000 + 1, judged));
    if (reg) context.insert(*reg);
    for (uint64_t i : context) {
      if (replay.insert(i).second) {
        PROBITY_ASSIGN_OR_RETURN(*b.add_context(), ProveEntry(reader, i, cp_size));
      }
    }
    for (uint64_t i : replay) m->add_replay_indices(i);
  }

  // Consistency from a checkpoint the recipient holds.
  if (options.since_size) {
    const uint64_t old_size = *options.since_size;
    if (old_size == 0 || old_size > cp_size) {
      return InvalidArgument("--since-size must be in [1, " + std::to_string(cp_size) + "], got " +
                             std::to_string(old_size));
    }
    PROBITY_ASSIGN_OR_RETURN(auto all, reader.Checkpoints());
    const v1::CheckpointRecord* held = nullptr;
    for (const auto& c : all) {
      if (c.tree_size() == old_size) held = &c;
    }
    if (held == nullptr) return NotFound("no checkpoint of size " + std::to_string(old_size));
    auto opened_old = trust.Open(held->signed_note());
    if (!opened_old.ok()) {
      return FailedPrecondition("the checkpoint of size " + std::to_string(old_size) +
                                " does not meet the policy: " + opened_old.status().message());
    }
    *b.mutable_consistency_from() = CheckpointMessage(*held, *opened_old);
    PROBITY_ASSIGN_OR_RETURN(auto path, reader.ConsistencyProof(old_size, cp_size));
    auto* c = b.mutable_consistency();
    c->set_old_size(old_size);
    c->set_new_size(cp_size);
    for (const auto& h : path) c->add_hashes(AsString(h));
  }
  *b.mutable_policy() = trust.policy();  // with the origin filled in
  return b;
}

}  // namespace probity::bundle
