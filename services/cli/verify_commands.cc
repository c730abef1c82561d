#include "services/cli/verify_commands.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <variant>

#include "common/merkle/hasher.h"
#include "common/note/key_files.h"
#include "common/note/policy.h"
#include "services/cli/commands.h"
#include "services/verify/verify.h"

namespace probity::cli {
namespace {

struct VerifyOptions {
  std::string log_key;  // a vkey or its file
  std::string policy;   // a trust policy file
  std::string checkpoint;
  std::string old_checkpoint;
  std::string proof;
  std::string leaf;
  std::string leaf_hash;
};

// A usage problem (exit 2) or invalid material (exit 1).
struct Outcome {
  int code;
  std::string message;
};

StatusOr<std::string> ReadFile(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  ss << in.rdbuf();
  return ss.str();
}

StatusOr<note::TrustPolicy> Policy(const VerifyOptions& o) {
  if (!o.policy.empty()) {
    PROBITY_ASSIGN_OR_RETURN(std::string text, ReadFile(o.policy));
    PROBITY_ASSIGN_OR_RETURN(v1::VerifierPolicy p, note::ParsePolicy(text));
    return note::TrustPolicy::Create(p);
  }
  // One key, or the log's keys one per line after a rotation (newest first).
  PROBITY_ASSIGN_OR_RETURN(std::vector<std::string> keys, note::LoadVerifierKeyTexts(o.log_key));
  return note::TrustPolicy::ForLogKeys(keys);
}

std::string Describe(const note::TrustedCheckpoint& cp) {
  std::string s = cp.checkpoint.origin + " at size " + std::to_string(cp.checkpoint.size) +
                  ", root " + merkle::ToBase64(cp.checkpoint.root);
  if (!cp.cosigned.empty()) {
    s += ", cosigned by";
    for (const auto& w : cp.cosigned) s += " " + w;
  }
  return s;
}

// Runs one verification: `check` returns the success line or the outcome.
int Run(const char* cmd, const VerifyOptions& o,
        const std::function<std::variant<std::string, Outcome>(const note::TrustPolicy&)>& check) {
  auto policy = Policy(o);
  if (!policy.ok()) {
    std::cerr << "probity verify " << cmd << ": " << policy.status().message() << "\n";
    return kExitUsage;
  }
  auto r = check(*policy);
  if (auto* ok = std::get_if<std::string>(&r)) {
    std::cout << "OK: " << *ok << "\n";
    return kExitOk;
  }
  const Outcome& bad = std::get<Outcome>(r);
  std::cerr << "probity verify " << cmd << ": " << (bad.code == kExitFailure ? "INVALID: " : "")
            << bad.message << "\n";
  return bad.code;
}

Outcome Usage(const Status& st) { return {kExitUsage, st.message()}; }
Outcome Invalid(const Status& st) { return {kExitFailure, st.message()}; }

// Reads and checks a checkpoint file.
std::variant<note::TrustedCheckpoint, Outcome> Checkpoint(const note::TrustPolicy& policy,
                                                          const std::string& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return Usage(text.status());
  auto cp = verify::VerifyCheckpoint(policy, *text);
  if (!cp.ok()) return Invalid(Status(cp.status().code(), file + ": " + cp.status().message()));
  return std::move(cp).value();
}

void AddTrustOptions(CLI::App* cmd, VerifyOptions* o) {
  auto* key = cmd->add_option("--log-key", o->log_key,
                              "The log's verifier key (signed-note vkey), or a file holding it");
  auto* policy = cmd->add_option("--policy", o->policy,
                                 "A trust policy file: log key, witness keys and quorum "
                                 "(docs/checkpoints.md, \"Trust policy\")");
  key->excludes(policy);
  cmd->callback([key, policy] {
    if (key->count() == 0 && policy->count() == 0) {
      throw CLI::ValidationError("give --log-key or --policy");
    }
  });
}

}  // namespace

void AddVerifyCommands(CLI::App& app, std::function<int()>* action) {
  auto o = std::make_shared<VerifyOptions>();
  auto* verify = app.add_subcommand(
      "verify",
      "Check checkpoints and proofs handed to you, against the log's key or a trust policy (no "
      "store, no service). Exit 0 valid, 1 invalid, 2 usage");
  verify->require_subcommand(1);

  auto* cp = verify->add_subcommand("checkpoint", "Check a signed checkpoint (a C2SP note)");
  cp->add_option("checkpoint", o->checkpoint, "The checkpoint file (- for standard input)")
      ->required();
  AddTrustOptions(cp, o.get());
  cp->final_callback([o, action] {
    if (*action) return;
    *action = [o] {
      return Run("checkpoint", *o,
                 [&](const note::TrustPolicy& p) -> std::variant<std::string, Outcome> {
                   auto c = Checkpoint(p, o->checkpoint);
                   if (auto* bad = std::get_if<Outcome>(&c)) return *bad;
                   return Describe(std::get<note::TrustedCheckpoint>(c));
                 });
    };
  });

  auto* incl = verify->add_subcommand(
      "inclusion",
      "Check an inclusion proof (probity log proof inclusion --json) against a "
      "checkpoint, and optionally the entry's exact bytes");
  incl->add_option("--checkpoint", o->checkpoint, "The checkpoint the proof is for")->required();
  incl->add_option("--proof", o->proof, "The proof (InclusionProof or EntryProof JSON)")
      ->required();
  auto* leaf =
      incl->add_option("--leaf", o->leaf, "The entry's exact leaf bytes (probity log get --raw)");
  incl->add_option("--leaf-hash", o->leaf_hash,
                   "The leaf hash the proof must be for (base64 or hex)")
      ->excludes(leaf);
  AddTrustOptions(incl, o.get());
  incl->final_callback([o, action] {
    if (*action) return;
    *action = [o] {
      return Run("inclusion", *o,
                 [&](const note::TrustPolicy& p) -> std::variant<std::string, Outcome> {
                   auto c = Checkpoint(p, o->checkpoint);
                   if (auto* bad = std::get_if<Outcome>(&c)) return *bad;
                   const auto& checkpoint = std::get<note::TrustedCheckpoint>(c);
                   auto json = ReadFile(o->proof);
                   if (!json.ok()) return Usage(json.status());
                   auto proof = verify::ParseInclusionProof(*json);
                   if (!proof.ok()) return Invalid(proof.status());
                   std::optional<std::string> bytes;
                   if (!o->leaf.empty()) {
                     auto b = ReadFile(o->leaf);
                     if (!b.ok()) return Usage(b.status());
                     bytes = std::move(b).value();
                   }
                   if (!o->leaf_hash.empty()) {
                     auto h = verify::ParseHash(o->leaf_hash);
                     if (!h.ok()) return Usage(h.status());
                     if (merkle::AsBytes(*h) != proof->leaf_hash()) {
                       return Invalid(DataLoss("the proof is for another leaf hash"));
                     }
                   }
                   Status st = verify::VerifyInclusion(checkpoint, *proof, bytes);
                   if (!st.ok()) return Invalid(st);
                   return "entry " + std::to_string(proof->leaf_index()) +
                          (bytes ? " (its bytes checked)" : std::string()) + " is in " +
                          Describe(checkpoint);
                 });
    };
  });

  auto* cons =
      verify->add_subcommand("consistency",
                             "Check that a checkpoint extends an older one (probity log proof "
                             "consistency --json)");
  cons->add_option("--old", o->old_checkpoint, "The older checkpoint (one you kept)")->required();
  cons->add_option("--checkpoint", o->checkpoint, "The newer checkpoint")->required();
  cons->add_option("--proof", o->proof, "The consistency proof (ConsistencyProof JSON)")
      ->required();
  AddTrustOptions(cons, o.get());
  cons->final_callback([o, action] {
    if (*action) return;
    *action = [o] {
      return Run("consistency", *o,
                 [&](const note::TrustPolicy& p) -> std::variant<std::string, Outcome> {
                   // The older checkpoint needs the log's signature, not the witness quorum: it
                   // may predate the witnesses.
                   const note::TrustPolicy log_only = p.LogOnly();
                   auto older = Checkpoint(log_only, o->old_checkpoint);
                   if (auto* bad = std::get_if<Outcome>(&older)) return *bad;
                   auto newer = Checkpoint(p, o->checkpoint);
                   if (auto* bad = std::get_if<Outcome>(&newer)) return *bad;
                   auto json = ReadFile(o->proof);
                   if (!json.ok()) return Usage(json.status());
                   auto proof = verify::ParseConsistencyProof(*json);
                   if (!proof.ok()) return Invalid(proof.status());
                   const auto& a = std::get<note::TrustedCheckpoint>(older);
                   const auto& b = std::get<note::TrustedCheckpoint>(newer);
                   Status st = verify::VerifyConsistency(a, b, *proof);
                   if (!st.ok()) return Invalid(st);
                   return Describe(b) + " extends size " + std::to_string(a.checkpoint.size);
                 });
    };
  });
}

}  // namespace probity::cli
