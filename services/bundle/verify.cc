// Verify: a dispute bundle checked offline (docs/bundle.md, "Verifying a bundle").
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/codec/codec.h"
#include "common/crypto/sha256.h"
#include "common/merkle/hasher.h"
#include "common/merkle/proof.h"
#include "common/note/policy.h"
#include "services/bundle/bundle.h"
#include "services/bundle/reevaluate.h"

namespace probity::bundle {
namespace {

using internal::DecodedEntry;

std::string AsString(const merkle::Hash& h) { return std::string(merkle::AsBytes(h)); }
std::string Str(uint64_t v) { return std::to_string(v); }

google::protobuf::util::JsonParseOptions StrictJson() {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  return o;
}

// Opens `c` under the policy and requires its stated size, root, origin and witnesses to be
// those of the signed note. Returns the verified root.
StatusOr<merkle::Hash> CheckCheckpoint(const std::string& what, const v1::Checkpoint& c,
                                       const note::TrustPolicy& trust, uint32_t* cosigs) {
  auto opened = trust.Open(c.signed_note());
  if (!opened.ok()) {
    return Status(opened.status().code(), what + ": " + opened.status().message());
  }
  const note::Checkpoint& cp = opened->checkpoint;
  if (c.origin() != cp.origin || c.tree_size() != cp.size ||
      c.root_hash() != std::string(cp.root.begin(), cp.root.end())) {
    return DataLoss(what + ": origin, size or root differ from the signed note's");
  }
  if (std::vector<std::string>(c.witnesses().begin(), c.witnesses().end()) != opened->cosigned) {
    return DataLoss(what + ": the witnesses named are not those whose cosignatures verified");
  }
  if (cosigs != nullptr) *cosigs = static_cast<uint32_t>(opened->cosigned.size());
  return cp.root;
}

// Binds an entry to its proof and the checkpoint: the proof is there, is for this index and the
// checkpoint's size, states the leaf hash computed here, and leads to the signed root.
StatusOr<DecodedEntry> CheckEntry(const std::string& what, const v1::EntryProof& e, uint64_t size,
                                  const merkle::Hash& root) {
  const std::string w = what + " (entry " + Str(e.index()) + ")";
  if (!e.has_proof()) return InvalidArgument(w + ": no inclusion proof");
  const v1::InclusionProof& p = e.proof();
  if (p.leaf_index() != e.index()) {
    return DataLoss(w + ": the proof is for index " + Str(p.leaf_index()));
  }
  if (p.tree_size() != size) {
    return DataLoss(w + ": the proof is for tree size " + Str(p.tree_size()) +
                    ", the checkpoint's is " + Str(size));
  }
  const merkle::Hash leaf_hash = merkle::HashLeaf(e.leaf());
  if (p.leaf_hash() != AsString(leaf_hash)) {
    return DataLoss(w + ": the leaf bytes do not hash to the proof's leaf hash");
  }
  std::vector<std::string> path(p.hashes().begin(), p.hashes().end());
  Status st =
      merkle::VerifyInclusionBytes(e.index(), size, AsString(leaf_hash), path, AsString(root));
  if (!st.ok()) return Status(st.code(), w + ": inclusion proof: " + st.message());
  return internal::DecodeEntry(e.index(), e.leaf());
}

}  // namespace

std::string ToFile(const v1::DisputeBundle& bundle) { return codec::ToJson(bundle) + "\n"; }

StatusOr<v1::DisputeBundle> ParseFile(std::string_view text) {
  v1::DisputeBundle b;
  auto st = google::protobuf::util::JsonStringToMessage(std::string(text), &b, StrictJson());
  if (!st.ok()) return InvalidArgument("bundle: not a DisputeBundle: " + std::string(st.message()));
  if (ToFile(b) != text) {
    return InvalidArgument(
        "bundle: not in canonical form (the file must be exactly what "
        "`probity dispute bundle` prints for its contents)");
  }
  return b;
}

StatusOr<v1::VerifierPolicy> ParsePolicy(std::string_view text) {
  v1::VerifierPolicy p;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') {
    PROBITY_ASSIGN_OR_RETURN(p, note::ParsePolicy(text));  // the text form (checkpoints.md)
  } else {
    auto st = google::protobuf::util::JsonStringToMessage(std::string(text), &p, StrictJson());
    if (!st.ok()) {
      return InvalidArgument("policy: not a VerifierPolicy: " + std::string(st.message()));
    }
  }
  PROBITY_ASSIGN_OR_RETURN(note::TrustPolicy trust, note::TrustPolicy::Create(p));
  return trust.policy();
}

StatusOr<v1::BundleVerification> Verify(const v1::DisputeBundle& b,
                                        const v1::VerifierPolicy& trusted,
                                        std::optional<std::string_view> held) {
  // The order puts cheap checks first; every check runs on every accepted bundle.
  // 1. Format and version: exactly this one (no downgrade, no unknown future).
  if (b.format() != kFormat) return InvalidArgument("bundle: format is '" + b.format() + "'");
  if (b.version() != kVersion) {
    return InvalidArgument("bundle: version " + Str(b.version()) + " (this verifier reads " +
                           Str(kVersion) + " only)");
  }
  // 2. The policy: the trusted one decides; the bundle's copy must be the same.
  PROBITY_ASSIGN_OR_RETURN(note::TrustPolicy trust, note::TrustPolicy::Create(trusted));
  if (!google::protobuf::util::MessageDifferencer::Equals(b.policy(), trust.policy())) {
    return FailedPrecondition("bundle: its verifier policy is not the trusted policy");
  }
  if (!b.has_checkpoint()) return InvalidArgument("bundle: no checkpoint");
  if (!b.has_flag()) return InvalidArgument("bundle: no flag entry");
  if (!b.has_rule_set()) return InvalidArgument("bundle: no rule-set entry");
  const bool consistency = b.has_consistency() || b.has_consistency_from();
  if (consistency) {
    if (!b.has_consistency() || !b.has_consistency_from()) {
      return InvalidArgument(
          "bundle: a consistency proof needs both the proof and its old checkpoint");
    }
    if (b.consistency().old_size() == 0) {
      return InvalidArgument("bundle: a consistency proof from size 0 proves nothing");
    }
  }

  // 3. Every entry: hashed here, bound to its proof, proved against the checkpoint's root (whose
  // signature step 4 checks).
  const uint64_t size = b.checkpoint().tree_size();
  if (b.checkpoint().root_hash().size() != merkle::kHashSize) {
    return InvalidArgument("checkpoint: the root hash is not 32 bytes");
  }
  merkle::Hash root;
  std::copy(b.checkpoint().root_hash().begin(), b.checkpoint().root_hash().end(), root.begin());
  v1::BundleVerification out;
  PROBITY_ASSIGN_OR_RETURN(DecodedEntry flag_entry, CheckEntry("flag", b.flag(), size, root));
  PROBITY_ASSIGN_OR_RETURN(DecodedEntry rule_entry,
                           CheckEntry("rule set", b.rule_set(), size, root));
  std::map<uint64_t, DecodedEntry> fed;  // evidence and context, by index
  std::vector<const DecodedEntry*> evidence;
  for (const auto& e : b.evidence()) {
    PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, CheckEntry("evidence", e, size, root));
    auto [it, fresh] = fed.emplace(d.index, std::move(d));
    if (!fresh) return InvalidArgument("bundle: entry " + Str(e.index()) + " given twice");
    evidence.push_back(&it->second);
  }
  for (const auto& e : b.context()) {
    PROBITY_ASSIGN_OR_RETURN(DecodedEntry d, CheckEntry("context", e, size, root));
    if (!fed.emplace(d.index, std::move(d)).second) {
      return InvalidArgument("bundle: entry " + Str(e.index()) + " given twice");
    }
  }
  std::optional<DecodedEntry> baseline;
  if (b.has_baseline()) {
    PROBITY_ASSIGN_OR_RETURN(baseline, CheckEntry("baseline", b.baseline(), size, root));
  }
  out.set_entries_verified(2 + fed.size() + (baseline ? 1 : 0));
  if (consistency) {
    const v1::ConsistencyProof& c = b.consistency();
    if (b.consistency_from().tree_size() != c.old_size() || c.new_size() != size) {
      return DataLoss("consistency proof is from " + Str(c.old_size()) + " to " +
                      Str(c.new_size()) + ", the checkpoints are of sizes " +
                      Str(b.consistency_from().tree_size()) + " and " + Str(size));
    }
    std::vector<std::string> path(c.hashes().begin(), c.hashes().end());
    Status st = merkle::VerifyConsistencyBytes(c.old_size(), size, path,
                                               b.consistency_from().root_hash(), AsString(root));
    if (!st.ok()) return Status(st.code(), "consistency proof: " + st.message());
  }

  // 4. The checkpoints: the log's signature, the witnesses' quorum, and the size, root, origin
  // and witnesses stated beside each being the signed note's.
  uint32_t cosigs = 0;
  PROBITY_ASSIGN_OR_RETURN(merkle::Hash signed_root,
                           CheckCheckpoint("checkpoint", b.checkpoint(), trust, &cosigs));
  if (signed_root != root) return DataLoss("checkpoint: the root is not the signed note's");
  if (consistency) {
    PROBITY_RETURN_IF_ERROR(
        CheckCheckpoint("old checkpoint", b.consistency_from(), trust, nullptr).status());
    out.set_consistency_verified(true);
  }
  if (held) {
    PROBITY_ASSIGN_OR_RETURN(auto held_cp, trust.Open(*held));
    const bool same_as_new = held_cp.checkpoint.size == size && held_cp.checkpoint.root == root;
    const bool same_as_old = consistency &&
                             held_cp.checkpoint.size == b.consistency_from().tree_size() &&
                             AsString(held_cp.checkpoint.root) == b.consistency_from().root_hash();
    if (!same_as_new && !same_as_old) {
      return FailedPrecondition("the checkpoint held (size " + Str(held_cp.checkpoint.size) +
                                ") is not the bundle's, nor proved consistent with it");
    }
  }

  // 5. What the entries are: the flag, the rule set it names, the evidence it names.
  if (flag_entry.record.kind() != v1::EVENT_KIND_FLAG || !flag_entry.envelope.has_flag()) {
    return DataLoss("flag entry " + Str(flag_entry.index) + " is not a FLAG");
  }
  const v1::Flag& flag = flag_entry.envelope.flag();
  if (flag.flag_id() != b.flag_id() || flag_entry.record.event_id() != b.flag_id()) {
    return DataLoss("flag entry " + Str(flag_entry.index) + " is flag " + flag.flag_id() +
                    ", the bundle is for " + b.flag_id());
  }
  if (rule_entry.record.kind() != v1::EVENT_KIND_RULE_SET || !rule_entry.envelope.has_rule_set() ||
      rule_entry.index >= flag_entry.index) {
    return DataLoss("rule-set entry " + Str(rule_entry.index) +
                    " is not a RULE_SET entry before the flag");
  }
  const v1::RuleSetPublished& rs = rule_entry.envelope.rule_set();
  if (crypto::Sha256Hex(rs.yaml_content()) != flag.rule_set_hash() ||
      rs.sha256_hex() != flag.rule_set_hash()) {
    return DataLoss("rule-set entry " + Str(rule_entry.index) + " is not rule set " +
                    flag.rule_set_hash());
  }
  if (static_cast<size_t>(flag.evidence_size()) != evidence.size()) {
    return DataLoss("the flag names " + Str(flag.evidence_size()) +
                    " evidence entries, the bundle holds " + Str(evidence.size()));
  }
  for (int i = 0; i < flag.evidence_size(); ++i) {
    const auto& named = flag.evidence(i);
    const DecodedEntry& got = *evidence[static_cast<size_t>(i)];
    if (got.index != named.log_index() || got.record.event_id() != named.event_id()) {
      return DataLoss("evidence " + Str(i) + ": the flag names entry " + Str(named.log_index()) +
                      " (" + named.event_id() + "), the bundle holds entry " + Str(got.index) +
                      " (" + got.record.event_id() + ")");
    }
  }
  if (!flag.baseline_id().empty() && !baseline) {
    return InvalidArgument("bundle: the flag names baseline " + flag.baseline_id() +
                           " and the bundle holds none");
  }
  const v1::Baseline* logged_baseline = nullptr;
  if (baseline) {
    if (baseline->record.kind() != v1::EVENT_KIND_BASELINE || !baseline->envelope.has_baseline() ||
        baseline->index >= flag_entry.index) {
      return DataLoss("baseline entry " + Str(baseline->index) +
                      " is not a BASELINE before the flag");
    }
    logged_baseline = &baseline->envelope.baseline();
  }

  // 6. The manifest must say what this verifier would do; then do it.
  const v1::ReevaluationManifest& m = b.manifest();
  const v1::ReevaluationMethod method = internal::MethodFor(flag.rule_kind());
  if (method == v1::REEVALUATION_METHOD_UNSPECIFIED) {
    return InvalidArgument("bundle: rule kind '" + flag.rule_kind() +
                           "' is unknown to this verifier");
  }
  if (m.method() != method || m.rule_id() != flag.rule_id() ||
      m.rule_version() != flag.rule_version() || m.rule_kind() != flag.rule_kind() ||
      m.rule_set_sha256_hex() != flag.rule_set_hash() ||
      m.judged_at_tree_size() != flag.judged_at_tree_size() || m.engine() != internal::kEngine) {
    return DataLoss("bundle: the re-evaluation manifest does not match the flag");
  }
  out.set_method(method);
  if (method == v1::REEVALUATION_METHOD_REPLAY) {
    std::vector<uint64_t> listed(m.replay_indices().begin(), m.replay_indices().end());
    std::vector<uint64_t> have;
    std::vector<const DecodedEntry*> entries;
    for (const auto& [i, d] : fed) {
      have.push_back(i);
      entries.push_back(&d);
    }
    if (listed != have) {
      return DataLoss("bundle: the manifest's replay entries are not the bundle's");
    }
    if (!have.empty() && have.back() >= flag.judged_at_tree_size()) {
      return DataLoss("bundle: replay entry " + Str(have.back()) +
                      " is past the tree size the flag was judged at");
    }
    PROBITY_RETURN_IF_ERROR(internal::Replay(rs.yaml_content(), flag, entries));
    out.set_reproduced(true);
  } else {
    if (!b.context().empty() || !m.replay_indices().empty()) {
      return DataLoss("bundle: context entries for a rule that is not replayed");
    }
    PROBITY_RETURN_IF_ERROR(internal::CheckLimits(flag, logged_baseline));
  }

  out.set_ok(true);
  out.set_flag_id(flag.flag_id());
  out.set_rule_kind(flag.rule_kind());
  out.set_checkpoint_size(size);
  out.set_cosignatures(cosigs);
  out.set_detail(method == v1::REEVALUATION_METHOD_REPLAY
                     ? "the rules engine re-derived the flag from the bundle's entries"
                     : "the flag's figures lie outside its stated limits (a peer comparison is "
                       "not re-derived from a bundle)");
  return out;
}

StatusOr<v1::BundleVerification> VerifyFile(std::string_view bundle_file,
                                            const v1::VerifierPolicy& trusted,
                                            std::optional<std::string_view> held) {
  PROBITY_ASSIGN_OR_RETURN(v1::DisputeBundle b, ParseFile(bundle_file));
  return Verify(b, trusted, held);
}

}  // namespace probity::bundle
