#include "common/note/policy.h"

#include <set>

#include "common/note/cosignature.h"
#include "common/note/key_files.h"

namespace probity::note {
namespace {

Status BadLine(size_t line, const std::string& why) {
  return InvalidArgument("trust policy line " + std::to_string(line) + ": " + why);
}

}  // namespace

StatusOr<v1::VerifierPolicy> ParsePolicy(std::string_view text) {
  v1::VerifierPolicy p;
  bool have_quorum = false;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return BadLine(line_no, "expected '<statement> <value>'");
    const std::string_view word = line.substr(0, sp);
    std::string_view value = line.substr(sp + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (word == "log") {
      if (!p.log_vkey().empty()) return BadLine(line_no, "a second 'log'");
      auto v = Verifier::FromVerifierKey(value);
      if (!v.ok()) return BadLine(line_no, v.status().message());
      p.set_log_vkey(std::string(value));
      if (p.log_origin().empty()) p.set_log_origin(v->name());
    } else if (word == "origin") {
      if (value.empty() || value.find(' ') != std::string_view::npos)
        return BadLine(line_no, "origin must be one non-empty word");
      p.set_log_origin(std::string(value));
    } else if (word == "witness") {
      auto v = Verifier::FromVerifierKey(value, kAlgCosignatureV1);
      if (!v.ok()) return BadLine(line_no, v.status().message());
      v1::WitnessKey* w = p.add_witnesses();
      w->set_name(v->name());
      w->set_vkey(std::string(value));
    } else if (word == "quorum") {
      if (have_quorum) return BadLine(line_no, "a second 'quorum'");
      uint64_t k = 0;
      if (value.empty() || value.size() > 4) return BadLine(line_no, "quorum is not a number");
      for (char c : value) {
        if (c < '0' || c > '9') return BadLine(line_no, "quorum is not a number");
        k = k * 10 + static_cast<uint64_t>(c - '0');
      }
      p.set_quorum(static_cast<uint32_t>(k));
      have_quorum = true;
    } else {
      return BadLine(
          line_no, "unknown statement '" + std::string(word) + "' (log, origin, witness, quorum)");
    }
  }
  if (p.witnesses_size() > 0 && !have_quorum) {
    return InvalidArgument("trust policy: witnesses are listed but no 'quorum'");
  }
  // The remaining rules (a log key, quorum within range, unique witness names).
  PROBITY_RETURN_IF_ERROR(TrustPolicy::Create(p).status());
  return p;
}

StatusOr<TrustPolicy> TrustPolicy::Create(const v1::VerifierPolicy& policy) {
  if (policy.log_vkey().empty()) return InvalidArgument("trust policy: no 'log' key");
  PROBITY_ASSIGN_OR_RETURN(Verifier log, Verifier::FromVerifierKey(policy.log_vkey()));
  v1::VerifierPolicy p = policy;
  if (p.log_origin().empty()) p.set_log_origin(log.name());
  std::vector<Verifier> witnesses;
  std::set<std::string> names;
  for (const v1::WitnessKey& w : p.witnesses()) {
    PROBITY_ASSIGN_OR_RETURN(Verifier v, Verifier::FromVerifierKey(w.vkey(), kAlgCosignatureV1));
    if (!w.name().empty() && w.name() != v.name()) {
      return InvalidArgument("trust policy: witness '" + w.name() + "' has a key named '" +
                             v.name() + "'");
    }
    if (!names.insert(v.name()).second) {
      return InvalidArgument("trust policy: witness '" + v.name() + "' is listed twice");
    }
    witnesses.push_back(std::move(v));
  }
  if (p.quorum() > witnesses.size()) {
    return InvalidArgument("trust policy: quorum " + std::to_string(p.quorum()) +
                           " is more than the " + std::to_string(witnesses.size()) +
                           " witnesses listed");
  }
  return TrustPolicy(std::move(p), std::move(log), std::move(witnesses));
}

StatusOr<TrustPolicy> TrustPolicy::ForLogKey(std::string_view log_vkey) {
  return ForLogKeys({std::string(log_vkey)});
}

StatusOr<TrustPolicy> TrustPolicy::ForLogKeys(const std::vector<std::string>& log_vkeys) {
  PROBITY_ASSIGN_OR_RETURN(std::vector<Verifier> keys, ParseLogKeys(log_vkeys));
  v1::VerifierPolicy p;
  p.set_log_vkey(log_vkeys.front());
  PROBITY_ASSIGN_OR_RETURN(TrustPolicy policy, Create(p));
  policy.log_keys_ = std::move(keys);
  return policy;
}

TrustPolicy TrustPolicy::LogOnly() const {
  v1::VerifierPolicy p;
  p.set_log_origin(policy_.log_origin());
  p.set_log_vkey(policy_.log_vkey());
  TrustPolicy out(std::move(p), log_, {});
  out.log_keys_ = log_keys_;
  return out;
}

StatusOr<TrustedCheckpoint> TrustPolicy::Open(std::string_view note) const {
  PROBITY_ASSIGN_OR_RETURN(Note n, note::Open(note, log_keys_));
  TrustedCheckpoint out;
  PROBITY_ASSIGN_OR_RETURN(out.checkpoint, ParseCheckpoint(n.text));
  if (out.checkpoint.origin != policy_.log_origin()) {
    return FailedPrecondition("checkpoint: origin '" + out.checkpoint.origin +
                              "' is not the policy's '" + policy_.log_origin() + "'");
  }
  for (const Verifier& w : witnesses_) {
    bool cosigned = false;
    for (const Signature& s : n.unverified) {
      auto t = VerifyCosignature(w, n.text, s);
      if (t.status().code() == Code::kNotFound) continue;
      if (!t.ok()) return DataLoss(t.status().message());
      cosigned = true;
    }
    if (cosigned) out.cosigned.push_back(w.name());
  }
  if (out.cosigned.size() < policy_.quorum()) {
    return FailedPrecondition("checkpoint: " + std::to_string(out.cosigned.size()) + " of the " +
                              std::to_string(policy_.quorum()) +
                              " witness cosignatures the policy requires");
  }
  out.text = std::move(n.text);
  return out;
}

}  // namespace probity::note
