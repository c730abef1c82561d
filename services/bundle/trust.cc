#include "services/bundle/trust.h"

#include <set>

namespace probity::bundle::internal {

StatusOr<TrustedKeys> LoadPolicy(const v1::VerifierPolicy& policy) {
  TrustedKeys keys;
  if (policy.log_origin().empty()) return InvalidArgument("policy: log_origin is empty");
  keys.origin = policy.log_origin();
  auto log = note::Verifier::FromVerifierKey(policy.log_vkey());
  if (!log.ok()) return InvalidArgument("policy: log_vkey: " + log.status().message());
  keys.known.push_back(*log);
  std::set<std::string> names = {log->name()};
  for (const auto& w : policy.witnesses()) {
    auto v = note::Verifier::FromVerifierKey(w.vkey());
    if (!v.ok())
      return InvalidArgument("policy: witness " + w.name() + ": " + v.status().message());
    if (v->name() != w.name()) {
      return InvalidArgument("policy: witness " + w.name() + " has a key named " + v->name());
    }
    if (!names.insert(v->name()).second) {
      return InvalidArgument("policy: two keys are named " + v->name());
    }
    keys.known.push_back(*v);
  }
  if (policy.quorum() > static_cast<uint32_t>(policy.witnesses_size())) {
    return InvalidArgument("policy: quorum " + std::to_string(policy.quorum()) + " exceeds the " +
                           std::to_string(policy.witnesses_size()) + " witnesses");
  }
  keys.quorum = policy.quorum();
  return keys;
}

StatusOr<OpenedCheckpoint> OpenWithPolicy(std::string_view signed_note, const TrustedKeys& keys) {
  PROBITY_ASSIGN_OR_RETURN(note::Note n, note::Open(signed_note, keys.known));
  const note::Verifier& log = keys.known.front();
  bool by_log = false;
  OpenedCheckpoint out;
  for (const auto& sig : n.verified) {
    if (sig.name == log.name() && sig.key_hash == log.key_hash()) {
      by_log = true;
      continue;
    }
    for (size_t i = 1; i < keys.known.size(); ++i) {
      if (sig.name == keys.known[i].name() && sig.key_hash == keys.known[i].key_hash()) {
        out.witnesses.push_back(sig.name);
      }
    }
  }
  if (!by_log) {
    return FailedPrecondition("checkpoint is not signed by the log key " + log.name());
  }
  if (out.witnesses.size() < keys.quorum) {
    return FailedPrecondition("checkpoint has " + std::to_string(out.witnesses.size()) +
                              " witness cosignature(s), the policy requires " +
                              std::to_string(keys.quorum));
  }
  PROBITY_ASSIGN_OR_RETURN(out.checkpoint, note::ParseCheckpoint(n.text));
  if (out.checkpoint.origin != keys.origin) {
    return FailedPrecondition("checkpoint origin '" + out.checkpoint.origin +
                              "' is not the trusted log '" + keys.origin + "'");
  }
  return out;
}

}  // namespace probity::bundle::internal
