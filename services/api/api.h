// The api target: HTTP/JSON over the audit log for commissioners, practices and auditors
// (docs/api.md; every response shape is in docs/openapi.yaml). It serves trails, entries,
// proofs and checkpoints from a LogReader (the sequencer's store or a replica's), flags and
// their explanations from its View of the log, and takes decisions on flags, which it produces to
// probity.decisions.v1 so that ingest sequences them, and serves each flag's dispute bundle
// (services/bundle).
//
// Guarantees:
//  - Every caller is authenticated (AccessControl) and sees only its scope; what is out of scope
//    gets exactly the answer of what does not exist.
//  - Every read of a practice's data is recorded as an AccessRecord on probity.access.v1, and the
//    answer is sent only after the bus confirmed that record: no read without its record.
//  - A decision is answered 202 only after the bus confirmed it; a retry with the same
//    Idempotency-Key never makes a second decision (the same key with another body is 422).
//  - Every proof in one answer is against the one signed checkpoint the answer names.
// Nothing here reads the wall clock: time comes from the injected Clock.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "probity/v1/proofs.pb.h"
#include "services/api/access.h"
#include "services/api/idempotency.h"
#include "services/api/publisher.h"
#include "services/api/view.h"

namespace httplib {
class Server;
}

namespace prometheus {
class Registry;
}

namespace probity::api {

struct ApiOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port (see ApiServer::port())
  // TLS when a certificate is given; mutual TLS (client certificates checked against this CA,
  // callers named by their certificate's CN) when client_ca_file is given too.
  std::string tls_cert_file, tls_key_file, client_ca_file;
  size_t max_body_bytes = 16 * 1024;  // larger request bodies: 413
  size_t default_page_size = 100;
  size_t max_page_size = 1000;            // a larger limit: 400
  size_t max_stream_entries = 2'000'000;  // a streamed trail stops here (with a cursor)
  double rate_per_second = 50;            // per caller, token bucket; over it: 429
  double rate_burst = 200;
  int confirm_timeout_ms = 10000;   // longest wait for the bus to confirm a record
  int max_wait_ms = 30000;          // longest `wait` for a decision to be sequenced
  int read_timeout_ms = 5000;       // a request slower than this to arrive is dropped
  int threads = 64;                 // connections served at once (keep-alive holds one)
  std::string instance_id = "api";  // request ids are "<instance_id>-<n>"
  // What dispute bundles tell their recipients to trust (the log's key, witnesses, quorum); no
  // bundles are served without it (503).
  std::optional<v1::VerifierPolicy> bundle_policy;
};

// The LogReader to answer from. Called once per request; the answer is computed on what it
// returns (a reader of a store written by another process is reopened by the caller's function
// to see new entries).
using ReaderFn = std::function<std::shared_ptr<const logstore::LogReader>()>;
// One line per request: method, path, status, caller, time. Never a token.
using LogFn = std::function<void(std::string_view line)>;

class ApiServer {
 public:
  // REQUIRES: access, view, publisher, idempotency, clock and registry (when given) outlive the
  // server.
  ApiServer(ApiOptions options, const AccessControl* access, ReaderFn reader, const View* view,
            ConfirmedPublisher* publisher, IdempotencyStore* idempotency, const Clock* clock,
            prometheus::Registry* registry = nullptr, LogFn log = nullptr);
  ~ApiServer();

  // Binds and serves on background threads. kInvalidArgument for unusable TLS files,
  // kUnavailable when the port cannot be bound.
  Status Start();
  int port() const { return port_; }
  bool tls() const;
  // Stops accepting, ends the connections and joins the threads.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  // Sets the view's gauges every second (with a registry).
  std::thread metrics_thread_;
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ GUARDED_BY(stop_mu_) = false;
};

}  // namespace probity::api
