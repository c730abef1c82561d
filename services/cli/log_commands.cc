// `probity log ...`: read-only views of the audit log.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <tuple>

#include "common/codec/codec.h"
#include "common/logstore/proofs.h"
#include "common/logstore/store.h"
#include "common/merkle/hasher.h"
#include "common/note/key_files.h"
#include "common/time/civil.h"
#include "common/time/proto_time.h"
#include "services/cli/commands.h"

namespace probity::cli {
namespace {

// Fails as "probity log <cmd>: ...".
int LogFail(const char* cmd, const Status& st) { return Fail(std::string("log ") + cmd, st); }

// The log opened read-only, or nullptr after reporting why not.
std::unique_ptr<logstore::LogStore> OpenReadOnly(const LogFlags& f, const char* cmd) {
  auto store = logstore::LogStore::Open(f.data_dir + "/log", {.read_only = true});
  if (!store.ok()) {
    LogFail(cmd, store.status());
    return nullptr;
  }
  return std::move(store).value();
}

std::string Iso(const google::protobuf::Timestamp& ts) {
  return civil::FormatRfc3339(FromTimestamp(ts));
}

// A 32-byte hash field in the one encoding (base64).
std::string B64(const std::string& bytes) {
  auto h = merkle::HashFromBytes(bytes);
  return h.ok() ? merkle::ToBase64(*h) : std::string("(not 32 bytes)");
}

std::string HashHex(uint32_t key_hash) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", key_hash);
  return buf;
}

// The log's verifier keys: --log-key, else DATA_DIR/keys/probity.pub (a file may hold several, one
// per line, after a rotation), else every key the sequencer pinned in the store (the current one
// and those it retired). *source says which. kNotFound when there is none.
StatusOr<std::vector<note::Verifier>> LogKeys(const LogFlags& f, const logstore::LogStore& store,
                                              std::string* source) {
  if (!f.log_key.empty()) {
    *source = "--log-key";
    return note::LoadVerifierKeys(f.log_key);
  }
  const std::string pub = f.data_dir + "/keys/" + note::kVerifierKeyFile;
  if (std::filesystem::exists(pub)) {
    *source = pub;
    return note::LoadVerifierKeys(pub);
  }
  PROBITY_ASSIGN_OR_RETURN(std::vector<std::string> pinned, store.LogKeys());
  if (pinned.empty()) {
    return NotFound("no log key: pass --log-key (the log's verifier key, or its file), or keep " +
                    pub);
  }
  *source = "the log's own pinned keys; pass --log-key for an independent check";
  return note::ParseLogKeys(pinned);
}

// "name+hash" of each key, comma-separated.
std::string KeyNames(const std::vector<note::Verifier>& keys) {
  std::string out;
  for (const note::Verifier& k : keys) {
    if (!out.empty()) out += ", ";
    out += k.name() + "+" + HashHex(k.key_hash());
  }
  return out;
}

// The tree size a proof is for: the one asked for, else the latest verified checkpoint's.
struct ProofAt {
  uint64_t size = 0;
  std::string why;
};
StatusOr<ProofAt> ProofSize(const LogFlags& f, const logstore::LogStore& store,
                            std::optional<uint64_t> asked) {
  if (asked) return ProofAt{*asked, "as asked"};
  std::string key_source;
  PROBITY_ASSIGN_OR_RETURN(std::vector<note::Verifier> keys, LogKeys(f, store, &key_source));
  PROBITY_ASSIGN_OR_RETURN(std::optional<v1::Checkpoint> cp,
                           logstore::LatestVerifiedCheckpoint(store, keys));
  if (!cp) return NotFound("no verified checkpoint yet: give the tree size");
  return ProofAt{cp->tree_size(), "the latest signed checkpoint"};
}

// An entry as JSON: the stored record, its leaf hash, and the decoded event when it decodes.
std::string EntryJson(const logstore::Entry& e) {
  v1::LogRecord r;
  r.ParseFromString(e.record_bytes);
  std::string s = "{\"index\":" + std::to_string(e.index) + ",\"leaf_hash\":\"" +
                  merkle::ToHex(e.leaf_hash) + "\",\"record\":" + codec::ToJson(r);
  std::optional<std::string_view> ct;
  if (r.content_type() == v1::CONTENT_TYPE_JSON) ct = "application/json";
  // It was validated when it was received; only decode it again here (no clock check).
  auto d = codec::Decode(r.topic(), r.payload(), ct, codec::Policy{}, INT64_MAX / 4);
  if (auto* ok = std::get_if<codec::Decoded>(&d)) s += ",\"event\":" + codec::ToJson(ok->envelope);
  return s + "}";
}

// Writes bytes exactly to `out_file` ("-": standard output).
int WriteBytes(const char* cmd, const std::string& bytes, const std::string& out_file) {
  if (out_file == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    return std::cout ? kExitOk : kExitFailure;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return LogFail(cmd, IoError("cannot write " + out_file));
  return kExitOk;
}

std::string KindNames() {
  std::string s;
  for (int k = 1; k < v1::EventKind_ARRAYSIZE; ++k) {
    if (!v1::EventKind_IsValid(k)) continue;
    s += (s.empty() ? "" : ", ") + std::string(codec::ShortKindName(static_cast<v1::EventKind>(k)));
  }
  return s;
}

}  // namespace

int LogList(const ListOptions& o) {
  const LogFlags& f = o.log;
  const ListOptions& filter = o;
  const uint64_t from = o.from, limit = o.limit;
  std::optional<v1::EventKind> kind;
  if (!filter.kind.empty()) {
    kind = codec::ParseKind(filter.kind);
    if (!kind) {
      return LogFail("list", InvalidArgument("unknown kind '" + filter.kind +
                                             "' (kinds: " + KindNames() + ")"));
    }
  }
  int64_t since = INT64_MIN, until = INT64_MAX;
  for (auto [text, out, flag] : {std::tuple{&filter.occurred_from, &since, "--occurred-from"},
                                 std::tuple{&filter.occurred_to, &until, "--occurred-to"}}) {
    if (text->empty()) continue;
    if (filter.practice.empty()) {
      return LogFail("list", InvalidArgument(std::string(flag) + " needs --practice"));
    }
    auto t = ParseDateOption(flag, *text);
    if (!t.ok()) return LogFail("list", t.status());
    *out = *t;
  }
  auto store = OpenReadOnly(f, "list");
  if (!store) return kExitFailure;
  auto size = store->TreeSize();
  if (!size.ok()) return LogFail("list", size.status());
  if (!f.json) {
    std::printf("%-8s %-36s %-16s %-8s %-20s %s\n", "INDEX", "EVENT ID", "KIND", "PRACTICE",
                "OCCURRED", "SOURCE");
  }
  uint64_t shown = 0;
  auto show = [&](const logstore::Entry& e) -> Status {
    v1::LogRecord r;
    if (!r.ParseFromString(e.record_bytes)) {
      return DataLoss("entry " + std::to_string(e.index) + " does not parse");
    }
    // With both --practice and --kind the practice index drives and the kind filters.
    if (kind && r.kind() != *kind) return Status::Ok();
    ++shown;
    if (f.json) {
      std::cout << EntryJson(e) << "\n";
      return Status::Ok();
    }
    std::string kind_name = v1::EventKind_Name(r.kind());
    if (kind_name.rfind("EVENT_KIND_", 0) == 0) kind_name = kind_name.substr(11);
    std::printf("%-8llu %-36s %-16s %-8s %-20s %s/%d@%lld%s\n",
                static_cast<unsigned long long>(e.index), r.event_id().c_str(), kind_name.c_str(),
                r.practice_code().c_str(), Iso(r.occurred_at()).c_str(), r.topic().c_str(),
                r.partition(), static_cast<long long>(r.offset()),
                r.conflicting_resubmission() ? "  CONFLICTING RESUBMISSION" : "");
    return Status::Ok();
  };
  Status st;
  if (!filter.practice.empty() || kind) {
    StatusOr<std::vector<uint64_t>> found =
        !filter.practice.empty()
            ? store->FindByPractice(filter.practice, since, until, kind ? SIZE_MAX : limit)
            : store->FindByKind(static_cast<uint32_t>(*kind), from, limit);
    if (!found.ok()) return LogFail("list", found.status());
    for (uint64_t i : *found) {
      if (shown >= limit) break;
      auto e = store->Get(i);
      if (!e.ok()) return LogFail("list", e.status());
      st = show(*e);
      if (!st.ok()) break;
    }
  } else {
    st = store->Scan(std::min(from, *size), std::min(*size, from + limit), show);
  }
  if (!st.ok()) return LogFail("list", st);
  if (!f.json) {
    std::printf("(%llu shown; the log holds %llu entries)\n",
                static_cast<unsigned long long>(shown), static_cast<unsigned long long>(*size));
  }
  return kExitOk;
}

int LogGet(const GetOptions& o) {
  const LogFlags& f = o.log;
  const std::optional<uint64_t>& index = o.index;
  const std::string& event_id = o.event_id;
  auto store = OpenReadOnly(f, "get");
  if (!store) return kExitFailure;
  std::vector<uint64_t> indexes;
  if (index) {
    indexes.push_back(*index);
  } else {
    auto found = store->FindByEventId(event_id);
    if (!found.ok()) return LogFail("get", found.status());
    if (found->empty())
      return LogFail("get", NotFound("no entry with event id '" + event_id + "'"));
    indexes = *found;
  }
  if (o.raw) {
    if (indexes.size() != 1) {
      return LogFail("get",
                     InvalidArgument("--raw writes one entry; event id '" + event_id + "' has " +
                                     std::to_string(indexes.size()) + " (give the index)"));
    }
    auto e = store->Get(indexes[0]);
    if (!e.ok()) return LogFail("get", e.status());
    return WriteBytes("get", e->record_bytes, o.raw_out);
  }
  for (uint64_t i : indexes) {
    auto e = store->Get(i);
    if (!e.ok()) return LogFail("get", e.status());
    std::cout << EntryJson(*e) << "\n";
  }
  return kExitOk;
}

int LogVerify(const LogFlags& f) {
  auto store = OpenReadOnly(f, "verify");
  if (!store) return kExitFailure;
  auto size = store->TreeSize();
  if (!size.ok()) return LogFail("verify", size.status());
  auto checkpoints = store->LatestCheckpoint();
  if (!checkpoints.ok()) return LogFail("verify", checkpoints.status());
  std::string key_source;
  auto keys = LogKeys(f, *store, &key_source);
  if (!keys.ok() && (keys.status().code() != Code::kNotFound || *checkpoints)) {
    return LogFail("verify", keys.status());
  }
  auto start = std::chrono::steady_clock::now();
  auto report = store->Verify(
      [&](uint64_t done, uint64_t total) {
        if (!f.json && total > 1000000 && isatty(2)) {
          std::fprintf(stderr, "\rverifying: %llu / %llu entries",
                       static_cast<unsigned long long>(done),
                       static_cast<unsigned long long>(total));
        }
      },
      keys.ok() ? *keys : std::vector<note::Verifier>{});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!report.ok()) {
    if (f.json) std::cout << "{\"ok\":false,\"error\":\"" << report.status().message() << "\"}\n";
    return LogFail("verify", report.status());
  }
  if (f.json) {
    std::cout << "{\"ok\":true,\"entries\":" << report->entries_checked
              << ",\"checkpoints\":" << report->checkpoints_checked << ",\"root\":\""
              << merkle::ToBase64(report->root) << "\",\"seconds\":" << secs << "}\n";
  } else {
    std::printf(
        "OK: %llu entries and %llu checkpoints verified in %.2f s; root %s\n"
        "    %llu signed notes checked with %s (%s)\n",
        static_cast<unsigned long long>(report->entries_checked),
        static_cast<unsigned long long>(report->checkpoints_checked), secs,
        merkle::ToBase64(report->root).c_str(),
        static_cast<unsigned long long>(report->notes_checked),
        keys.ok() ? KeyNames(*keys).c_str() : "no key",
        keys.ok() ? key_source.c_str() : "the log has no checkpoint");
  }
  return kExitOk;
}

int LogInclusionProof(const InclusionOptions& o) {
  const LogFlags& f = o.log;
  const char* cmd = "proof inclusion";
  auto store = OpenReadOnly(f, cmd);
  if (!store) return kExitFailure;
  auto at = ProofSize(f, *store, o.size);
  if (!at.ok()) return LogFail(cmd, at.status());
  auto proof = logstore::MakeInclusionProof(*store, o.index, at->size);
  if (!proof.ok()) return LogFail(cmd, proof.status());
  if (f.json) {
    std::cout << codec::ToJson(*proof) << "\n";
    return kExitOk;
  }
  std::printf("inclusion of index %llu in the tree of %llu entries (%s)\nleaf hash %s\n",
              static_cast<unsigned long long>(o.index), static_cast<unsigned long long>(at->size),
              at->why.c_str(), B64(proof->leaf_hash()).c_str());
  for (const auto& h : proof->hashes()) std::printf("  %s\n", B64(h).c_str());
  return kExitOk;
}

int LogConsistencyProof(const ConsistencyOptions& o) {
  const LogFlags& f = o.log;
  const char* cmd = "proof consistency";
  auto store = OpenReadOnly(f, cmd);
  if (!store) return kExitFailure;
  auto at = ProofSize(f, *store, o.to);
  if (!at.ok()) return LogFail(cmd, at.status());
  auto proof = logstore::MakeConsistencyProof(*store, o.from, at->size);
  if (!proof.ok()) return LogFail(cmd, proof.status());
  if (f.json) {
    std::cout << codec::ToJson(*proof) << "\n";
    return kExitOk;
  }
  std::printf("consistency of the tree of %llu entries with the tree of %llu (%s)\n",
              static_cast<unsigned long long>(o.from), static_cast<unsigned long long>(at->size),
              at->why.c_str());
  for (const auto& h : proof->hashes()) std::printf("  %s\n", B64(h).c_str());
  return kExitOk;
}

int LogCheckpoint(const CheckpointOptions& o) {
  const LogFlags& f = o.log;
  auto store = OpenReadOnly(f, "checkpoint");
  if (!store) return kExitFailure;
  std::string key_source;
  auto keys = LogKeys(f, *store, &key_source);
  if (!keys.ok()) return LogFail("checkpoint", keys.status());
  auto cp = logstore::LatestVerifiedCheckpoint(*store, *keys, o.size);
  if (!cp.ok()) return LogFail("checkpoint", cp.status());
  if (!*cp) {
    return LogFail("checkpoint", NotFound(o.size ? "no verified checkpoint of size " +
                                                       std::to_string(*o.size) + " is stored"
                                                 : std::string("no verified checkpoint yet")));
  }
  if (f.json) {
    std::cout << codec::ToJson(**cp) << "\n";
  } else {
    std::cout << (*cp)->signed_note();
  }
  return kExitOk;
}

int LogDeadLetterRaw(const LogFlags& f, uint64_t seq, const std::string& out_file);

int LogDeadLetters(const DeadLettersOptions& o) {
  if (o.raw) return LogDeadLetterRaw(o.log, *o.raw, o.raw_out);
  const LogFlags& f = o.log;
  const uint64_t from = o.from, limit = o.limit;
  auto store = OpenReadOnly(f, "deadletters");
  if (!store) return kExitFailure;
  auto n = store->DeadLetterCount();
  if (!n.ok()) return LogFail("deadletters", n.status());
  for (uint64_t i = from; i < *n && i < from + limit; ++i) {
    auto raw = store->GetDeadLetter(i);
    if (!raw.ok()) return LogFail("deadletters", raw.status());
    v1::DeadLetter d;
    d.ParseFromString(*raw);
    if (f.json) {
      std::cout << codec::ToJson(d) << "\n";
    } else {
      std::printf("%-6llu %s/%d@%lld  %-28s %s\n", static_cast<unsigned long long>(i),
                  d.source_topic().c_str(), d.source_partition(),
                  static_cast<long long>(d.source_offset()), d.reason_code().c_str(),
                  d.message().c_str());
    }
  }
  return kExitOk;
}

int LogDeadLetterRaw(const LogFlags& f, uint64_t seq, const std::string& out_file) {
  auto store = OpenReadOnly(f, "deadletters");
  if (!store) return kExitFailure;
  auto raw = store->GetDeadLetter(seq);
  if (!raw.ok()) return LogFail("deadletters", raw.status());
  v1::DeadLetter d;
  if (!d.ParseFromString(*raw)) {
    return LogFail("deadletters",
                   DataLoss("dead letter " + std::to_string(seq) + " does not parse"));
  }
  if (int rc = WriteBytes("deadletters", d.original_value(), out_file); rc != kExitOk) return rc;
  if (out_file == "-") return kExitOk;
  std::cerr << "wrote " << d.original_value().size() << " bytes (sha256 "
            << merkle::ToHex(merkle::Sha256(d.original_value())) << ") of dead letter " << seq
            << " to " << out_file << "\n";
  return kExitOk;
}

}  // namespace probity::cli
