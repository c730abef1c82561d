// `probity dispute bundle` and `probity verify-bundle`: only wiring; services/bundle does the work.
#include "services/cli/bundle_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/codec/codec.h"
#include "common/logstore/store.h"
#include "common/note/key_files.h"
#include "common/note/note.h"
#include "services/bundle/bundle.h"

namespace probity::cli {
namespace {

Status WriteWholeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("cannot write " + path);
  return Status::Ok();
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("cannot read " + path);
  return ss.str();
}

// The policy to embed: the file given, or the log's own key (DIR/keys/probity.pub) alone.
StatusOr<v1::VerifierPolicy> BuildPolicy(const DisputeBundleOptions& o) {
  if (!o.policy.empty()) {
    PROBITY_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(o.policy));
    return bundle::ParsePolicy(text);
  }
  const std::string path = o.store + "/keys/" + note::kVerifierKeyFile;
  PROBITY_ASSIGN_OR_RETURN(std::string vkey, ReadWholeFile(path));
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) vkey.pop_back();
  auto v = note::Verifier::FromVerifierKey(vkey);
  if (!v.ok()) return InvalidArgument(path + ": " + v.status().message());
  v1::VerifierPolicy p;
  p.set_log_origin(v->name());  // Probity's origin is its key's name (docs/checkpoints.md)
  p.set_log_vkey(vkey);
  return p;
}

}  // namespace

int DisputeBundle(const DisputeBundleOptions& o) {
  constexpr char kCmd[] = "dispute bundle";
  auto policy = BuildPolicy(o);
  if (!policy.ok()) return Fail(kCmd, policy.status());
  auto store = logstore::LogStore::Open(o.store + "/log", {.read_only = true});
  if (!store.ok()) return Fail(kCmd, store.status());
  auto b = bundle::Build(**store, o.flag_id, {.policy = *policy, .since_size = o.since_size});
  if (!b.ok()) return Fail(kCmd, b.status());
  const std::string file = bundle::ToFile(*b);
  if (o.out == "-") {
    std::cout << file << std::flush;
  } else if (Status st = WriteWholeFile(o.out, file); !st.ok()) {
    return Fail(kCmd, st);
  }
  if (!o.policy_out.empty()) {
    if (Status st = WriteWholeFile(o.policy_out, codec::ToJson(*policy) + "\n"); !st.ok()) {
      return Fail(kCmd, st);
    }
  }
  std::fprintf(stderr,
               "probity dispute bundle: flag %s (%s): %d evidence and %d context entries, each "
               "proved against checkpoint %llu (%d cosignatures)%s; %zu bytes%s%s\n",
               o.flag_id.c_str(), b->manifest().rule_kind().c_str(), b->evidence_size(),
               b->context_size(), static_cast<unsigned long long>(b->checkpoint().tree_size()),
               b->checkpoint().witnesses_size(),
               b->has_consistency() ? ", consistent from the checkpoint held" : "", file.size(),
               o.out == "-" ? "" : " written to ", o.out == "-" ? "" : o.out.c_str());
  return kExitOk;
}

int VerifyBundle(const VerifyBundleOptions& o) {
  constexpr char kCmd[] = "verify-bundle";
  auto policy_text = ReadWholeFile(o.policy);
  if (!policy_text.ok()) return Fail(kCmd, policy_text.status());
  auto policy = bundle::ParsePolicy(*policy_text);
  if (!policy.ok()) return Fail(kCmd, policy.status());
  auto file = ReadWholeFile(o.file);
  if (!file.ok()) return Fail(kCmd, file.status());
  std::optional<std::string> held;
  if (!o.checkpoint.empty()) {
    auto text = ReadWholeFile(o.checkpoint);
    if (!text.ok()) return Fail(kCmd, text.status());
    held = std::move(text).value();
  }
  auto v = bundle::VerifyFile(*file, *policy, held);
  if (!v.ok()) {
    if (o.json) {
      v1::BundleVerification refused;
      refused.set_detail(v.status().ToString());
      std::cout << codec::ToJson(refused) << "\n";
    }
    return Fail(kCmd, v.status());
  }
  if (o.json) {
    std::cout << codec::ToJson(*v) << "\n";
  } else {
    std::printf(
        "OK: flag %s (%s) verified: %llu entries hashed and proved against checkpoint %llu "
        "signed by %s with %u witness cosignature(s) (quorum %u)%s; %s.\n",
        v->flag_id().c_str(), v->rule_kind().c_str(),
        static_cast<unsigned long long>(v->entries_verified()),
        static_cast<unsigned long long>(v->checkpoint_size()), policy->log_origin().c_str(),
        v->cosignatures(), policy->quorum(),
        v->consistency_verified() ? ", consistent with the earlier checkpoint" : "",
        v->detail().c_str());
  }
  return kExitOk;
}

void AddBundleCommands(CLI::App& app, BundleCommandOptions* o, std::function<int()>* action) {
  auto* dispute = app.add_subcommand("dispute", "Disputes: evidence for a flag, for third parties");
  dispute->require_subcommand(1);
  auto* bundle = dispute->add_subcommand(
      "bundle",
      "Write a flag's dispute bundle: its entries with proofs against one signed checkpoint, the "
      "verifier policy and a re-evaluation manifest (docs/bundle.md)");
  bundle->add_option("flag_id", o->dispute.flag_id, "The flag's id")->required();
  bundle
      ->add_option("--store", o->dispute.store,
                   "Probity data directory (the log is DIR/log, its key DIR/keys/probity.pub)")
      ->capture_default_str();
  bundle->add_option("--out", o->dispute.out, "Bundle file to write (- is standard output)")
      ->capture_default_str();
  bundle->add_option("--since-size", o->dispute.since_size,
                     "Add a consistency proof from the checkpoint of this size, which the "
                     "recipient already holds");
  bundle->add_option("--policy", o->dispute.policy,
                     "Trust-policy file to embed (log key, witness keys, quorum; default: the "
                     "log's key alone)");
  bundle->add_option("--policy-out", o->dispute.policy_out,
                     "Also write the embedded policy as a trust-policy file for verify-bundle");
  bundle->callback([o, action] {
    if (!*action) *action = [o] { return DisputeBundle(o->dispute); };
  });

  auto* verify = app.add_subcommand(
      "verify-bundle",
      "Check a dispute bundle offline: every leaf, proof, signature and the quorum, then "
      "re-derive the flag from its evidence (docs/bundle.md)");
  verify->add_option("file", o->verify.file, "The bundle file")->required();
  verify
      ->add_option("--policy", o->verify.policy,
                   "Trust-policy file: a VerifierPolicy in JSON (docs/bundle.md)")
      ->required();
  verify->add_option("--checkpoint", o->verify.checkpoint,
                     "A signed checkpoint you already hold: it must be the bundle's, or the one "
                     "its consistency proof starts from");
  verify->add_flag("--json", o->verify.json, "Print the verification as JSON");
  verify->callback([o, action] {
    if (!*action) *action = [o] { return VerifyBundle(o->verify); };
  });
}

}  // namespace probity::cli
