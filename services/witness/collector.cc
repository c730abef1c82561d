#include "services/witness/collector.h"

#include <httplib.h>

#include <cstdio>

#include "common/merkle/hasher.h"
#include "common/note/cosignature.h"

namespace probity::witness {

StatusOr<std::unique_ptr<WitnessCollector>> WitnessCollector::Create(
    const std::vector<WitnessEndpoint>& witnesses, const logstore::LogReader* log, int timeout_ms) {
  std::vector<Witness> ws;
  for (const WitnessEndpoint& e : witnesses) {
    PROBITY_ASSIGN_OR_RETURN(note::Verifier key,
                             note::Verifier::FromVerifierKey(e.vkey, note::kAlgCosignatureV1));
    const size_t scheme = e.url.find("://");
    if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0) {
      return InvalidArgument("witness URL '" + e.url + "' is not http(s)://host:port[/prefix]");
    }
    const size_t path = e.url.find('/', scheme + 3);
    std::string host = e.url.substr(0, path);
    std::string prefix = path == std::string::npos ? "" : e.url.substr(path);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    ws.push_back(Witness{e, std::move(key), std::move(host), std::move(prefix), 0});
  }
  std::unique_ptr<WitnessCollector> c(new WitnessCollector(std::move(ws), log, timeout_ms));
  c->thread_ = std::thread([p = c.get()] { p->Run(); });
  return c;
}

WitnessCollector::WitnessCollector(std::vector<Witness> witnesses, const logstore::LogReader* log,
                                   int timeout_ms)
    : witnesses_(std::move(witnesses)), log_(log), timeout_ms_(timeout_ms) {}

WitnessCollector::~WitnessCollector() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  changed_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void WitnessCollector::Offer(const v1::CheckpointRecord& checkpoint) {
  {
    MutexLock l(&mu_);
    offered_ = checkpoint;
  }
  changed_.NotifyAll();
}

std::optional<v1::CheckpointRecord> WitnessCollector::TakeCosigned() {
  MutexLock l(&mu_);
  std::optional<v1::CheckpointRecord> out = std::move(cosigned_);
  cosigned_.reset();
  return out;
}

CollectorStats WitnessCollector::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

void WitnessCollector::Run() {
  for (;;) {
    v1::CheckpointRecord cp;
    {
      MutexLock l(&mu_);
      while (!stop_ && !offered_) changed_.Wait(&mu_);
      if (stop_) return;
      cp = std::move(*offered_);
      offered_.reset();
    }
    std::optional<v1::CheckpointRecord> done = CollectNow(cp);
    if (done) {
      MutexLock l(&mu_);
      cosigned_ = std::move(done);
    }
  }
}

StatusOr<std::string> WitnessCollector::Request(const v1::CheckpointRecord& cp,
                                                uint64_t old_size) const {
  std::string body = "old " + std::to_string(old_size) + "\n";
  if (old_size > 0 && old_size < cp.tree_size()) {
    PROBITY_ASSIGN_OR_RETURN(auto proof, log_->ConsistencyProof(old_size, cp.tree_size()));
    for (const merkle::Hash& h : proof) body += merkle::ToBase64(h) + "\n";
  }
  return body + "\n" + cp.signed_note();
}

std::pair<int, std::string> WitnessCollector::Post(const Witness& w,
                                                   const std::string& body) const {
  httplib::Client client(w.host);
  client.set_connection_timeout(0, timeout_ms_ * 1000);
  client.set_read_timeout(0, timeout_ms_ * 1000);
  client.set_write_timeout(0, timeout_ms_ * 1000);
  auto res = client.Post(w.prefix + "/add-checkpoint", body, "text/plain");
  if (!res) return {-1, httplib::to_string(res.error())};
  return {res->status, res->body};
}

std::optional<v1::CheckpointRecord> WitnessCollector::CollectNow(const v1::CheckpointRecord& cp) {
  const std::string& note = cp.signed_note();
  const size_t split = note.rfind("\n\n");
  if (split == std::string::npos) return std::nullopt;
  const std::string text = note.substr(0, split + 1);
  std::string lines;
  for (Witness& w : witnesses_) {
    std::string error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto request = Request(cp, w.held);
      if (!request.ok()) {
        error = request.status().message();
        break;
      }
      auto [status, body] = Post(w, *request);
      {
        MutexLock l(&mu_);
        ++stats_.requests;
      }
      if (status == 409) {
        // The witness holds another size: start again from it (once), unless it is ahead.
        const uint64_t held = std::strtoull(body.c_str(), nullptr, 10);
        error = "409: the witness holds size " + std::to_string(held);
        if (held > cp.tree_size() || attempt == 1) break;
        w.held = held;
        MutexLock l(&mu_);
        ++stats_.conflicts_recovered;
        continue;
      }
      if (status != 200) {
        error = "HTTP " + std::to_string(status) + ": " + body.substr(0, 300);
        break;
      }
      // One or more signature lines; keep those by this witness's key that verify.
      bool any = false;
      for (size_t pos = 0; pos < body.size();) {
        size_t e = body.find('\n', pos);
        if (e == std::string::npos) break;
        const std::string line = body.substr(pos, e - pos + 1);
        pos = e + 1;
        const size_t sp = line.rfind(' ');
        const size_t name_at = line.find(' ');
        if (sp == std::string::npos || name_at == std::string::npos || sp <= name_at) continue;
        note::Signature sig;
        sig.name = line.substr(name_at + 1, sp - name_at - 1);
        sig.base64 = line.substr(sp + 1, line.size() - sp - 2);
        sig.key_hash = w.key.key_hash();  // VerifyCosignature checks the one in the bytes
        if (note::VerifyCosignature(w.key, text, sig).ok()) {
          lines += line;
          any = true;
        }
      }
      if (any) {
        error.clear();
        w.held = cp.tree_size();
        MutexLock l(&mu_);
        ++stats_.cosignatures;
      } else {
        error = "no valid cosignature in the answer";
      }
      break;
    }
    if (!error.empty()) {
      std::fprintf(stderr, "witness %s: %s\n", w.endpoint.url.c_str(), error.c_str());
      MutexLock l(&mu_);
      ++stats_.failures;
      stats_.last_error = w.endpoint.url + ": " + error;
    }
  }
  if (lines.empty()) return std::nullopt;
  v1::CheckpointRecord out = cp;
  out.set_signed_note(note + lines);
  return out;
}

}  // namespace probity::witness
