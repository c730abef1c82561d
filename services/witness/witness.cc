#include "services/witness/witness.h"

#include <httplib.h>

#include <chrono>

#include "common/merkle/hasher.h"
#include "common/merkle/proof.h"
#include "common/metrics/http_server.h"
#include "common/note/checkpoint.h"
#include "common/note/cosignature.h"

namespace probity::witness {
namespace {

constexpr size_t kMaxProofLines = 63;
constexpr size_t kMaxBody = 64 << 10;

std::string StateKey(const std::string& origin) { return "log/" + origin; }

Reply Answer(int status, std::string body) {
  return Reply{status, std::move(body) + "\n", "text/plain; charset=utf-8"};
}

// Parses a decimal without sign or leading zeros.
std::optional<uint64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace

StatusOr<std::unique_ptr<Witness>> Witness::Open(const std::string& state_dir,
                                                 const std::vector<LogConfig>& logs,
                                                 note::Signer cosigner, const Clock* clock) {
  if (cosigner.alg() != note::kAlgCosignatureV1) {
    return InvalidArgument("witness: the witness key must be a cosigner key (type 4)");
  }
  std::vector<Log> compiled;
  for (const LogConfig& c : logs) {
    PROBITY_ASSIGN_OR_RETURN(note::Verifier v, note::Verifier::FromVerifierKey(c.vkey));
    for (const Log& l : compiled) {
      if (l.origin == c.origin) return InvalidArgument("witness: log " + c.origin + " twice");
    }
    compiled.push_back(Log{c.origin, std::move(v)});
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(o, state_dir, &raw);
  if (!rs.ok()) return IoError("witness: open state " + state_dir + ": " + rs.ToString());
  return std::unique_ptr<Witness>(new Witness(std::unique_ptr<rocksdb::DB>(raw),
                                              std::move(compiled), std::move(cosigner), clock));
}

Witness::Witness(std::unique_ptr<rocksdb::DB> db, std::vector<Log> logs, note::Signer cosigner,
                 const Clock* clock)
    : db_(std::move(db)), logs_(std::move(logs)), cosigner_(std::move(cosigner)), clock_(clock) {}

Witness::~Witness() { Stop(); }

StatusOr<std::optional<v1::Checkpoint>> Witness::Latest(const std::string& origin) const {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), StateKey(origin), &v);
  if (rs.IsNotFound()) return std::optional<v1::Checkpoint>();
  if (!rs.ok()) return IoError("witness: read state: " + rs.ToString());
  v1::Checkpoint cp;
  if (!cp.ParseFromString(v)) return DataLoss("witness: stored state of " + origin + " is bad");
  return std::optional<v1::Checkpoint>(std::move(cp));
}

Status Witness::KeepConflict(const std::string& origin, std::string_view body) {
  const std::string key = "conflict/" + origin + "/" + std::to_string(clock_->NowMicros());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status rs = db_->Put(wo, key, rocksdb::Slice(body.data(), body.size()));
  return rs.ok() ? Status::Ok() : IoError("witness: keep conflict: " + rs.ToString());
}

Reply Witness::AddCheckpoint(std::string_view body) {
  if (body.size() > kMaxBody) return Answer(400, "request body too large");
  // "old N\n", proof lines, "\n", the checkpoint.
  const size_t nl = body.find('\n');
  if (nl == std::string_view::npos || body.substr(0, 4) != "old ") {
    return Answer(400, "the body must start with 'old <size>'");
  }
  const auto old_size = Decimal(body.substr(4, nl - 4));
  if (!old_size) return Answer(400, "old size is not a decimal");
  std::string_view rest = body.substr(nl + 1);
  std::vector<merkle::Hash> proof;
  for (;;) {
    const size_t e = rest.find('\n');
    if (e == std::string_view::npos) return Answer(400, "no empty line before the checkpoint");
    const std::string_view line = rest.substr(0, e);
    rest.remove_prefix(e + 1);
    if (line.empty()) break;
    if (proof.size() == kMaxProofLines) return Answer(400, "more than 63 proof lines");
    auto h = merkle::HashFromBase64(line);
    if (!h.ok())
      return Answer(400,
                    "proof line " + std::to_string(proof.size() + 1) + ": " + h.status().message());
    proof.push_back(*h);
  }
  const std::string_view signed_note = rest;
  const std::string origin(signed_note.substr(0, signed_note.find('\n')));
  const Log* log = nullptr;
  for (const Log& l : logs_) {
    if (l.origin == origin) log = &l;
  }
  if (log == nullptr) return Answer(404, "unknown log origin '" + origin.substr(0, 200) + "'");
  auto opened = note::Open(signed_note, {log->key});
  if (!opened.ok()) {
    return Answer(opened.status().code() == Code::kInvalidArgument ? 400 : 403,
                  opened.status().message());
  }
  auto cp = note::ParseCheckpoint(opened->text);
  if (!cp.ok()) return Answer(400, cp.status().message());
  if (cp->origin != origin) return Answer(400, "origin mismatch");
  if (*old_size > cp->size) {
    return Answer(400, "old size " + std::to_string(*old_size) + " is above the checkpoint's " +
                           std::to_string(cp->size));
  }

  MutexLock lock(&mu_);
  auto latest = Latest(origin);
  if (!latest.ok()) return Answer(500, latest.status().message());
  const uint64_t held = *latest ? (*latest)->tree_size() : 0;
  if (*old_size != held) {
    return Reply{409, std::to_string(held) + "\n", "text/x.tlog.size"};
  }
  if (cp->size == 0 && cp->root != merkle::EmptyRoot()) {
    return Answer(422, "a checkpoint of size 0 must have the empty tree's root");
  }
  Status consistent;
  if (held == 0) {
    if (!proof.empty()) consistent = InvalidArgument("a proof from size 0 must be empty");
  } else {
    auto held_root = merkle::HashFromBytes((*latest)->root_hash());
    if (!held_root.ok()) return Answer(500, "stored root is bad");
    if (cp->size == held) {
      if (cp->root != *held_root || !proof.empty()) {
        consistent = DataLoss("same size " + std::to_string(held) + ", another root");
      }
    } else {
      consistent = merkle::VerifyConsistency(held, cp->size, proof, *held_root, cp->root);
    }
  }
  if (!consistent.ok()) {
    // Validly signed and inconsistent with what was cosigned: evidence; never cosigned.
    (void)KeepConflict(origin, body);
    return Answer(422, "not consistent with the checkpoint of size " + std::to_string(held) +
                           " already cosigned: " + consistent.message());
  }
  const uint64_t now = static_cast<uint64_t>(clock_->NowMicros() / 1000000);
  auto line = note::Cosign(cosigner_, opened->text, now);
  if (!line.ok()) return Answer(500, line.status().message());
  v1::Checkpoint state;
  state.set_origin(origin);
  state.set_tree_size(cp->size);
  state.set_root_hash(std::string(merkle::AsBytes(cp->root)));
  state.set_signed_note(std::string(signed_note) + *line);
  state.add_witnesses(cosigner_.name());
  rocksdb::WriteOptions wo;
  wo.sync = true;  // persisted before the answer
  rocksdb::Status rs = db_->Put(wo, StateKey(origin), state.SerializeAsString());
  if (!rs.ok()) return Answer(500, "cannot persist: " + rs.ToString());
  return Reply{200, *line, "text/plain; charset=utf-8"};
}

Reply Witness::GetCheckpoint(std::string_view origin_hash_hex) const {
  for (const Log& l : logs_) {
    if (merkle::ToHex(merkle::Sha256(l.origin)) != origin_hash_hex) continue;
    auto latest = Latest(l.origin);
    if (!latest.ok()) return Answer(500, latest.status().message());
    if (!*latest) return Answer(404, "nothing cosigned for " + l.origin + " yet");
    return Reply{200, (*latest)->signed_note(), "text/plain; charset=utf-8"};
  }
  return Answer(404, "unknown origin hash");
}

Status Witness::Start(const std::string& host, int port) {
  http_ = std::make_unique<httplib::Server>();
  auto send = [](const Reply& r, httplib::Response& res) {
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
  };
  http_->Post("/add-checkpoint", [this, send](const httplib::Request& req, httplib::Response& res) {
    send(AddCheckpoint(req.body), res);
  });
  http_->Get(R"(/([0-9a-f]{64})/checkpoint)",
             [this, send](const httplib::Request& req, httplib::Response& res) {
               send(GetCheckpoint(req.matches[1].str()), res);
             });
  return metrics::ListenInBackground(http_.get(), host, port, "witness", &port_, &thread_);
}

void Witness::Stop() {
  if (thread_.joinable()) {
    http_->stop();
    thread_.join();
  }
}

}  // namespace probity::witness
