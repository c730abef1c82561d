// `probity api`: the audit api over a log store (docs/api.md).
#include "services/cli/api_commands.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "common/crypto/sha256.h"
#include "common/follow/entry_source.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "common/note/key_files.h"
#include "common/note/note.h"
#include "common/sync/mutex.h"
#include "services/bundle/bundle.h"
#include "services/cli/follow_support.h"

namespace probity::cli {
namespace {

// A read-only store of a log that another process writes: reopened when the copy in hand is older
// than `max_age`, so that answers see new entries. Each caller keeps the copy it was given for as
// long as it needs it.
class ReopeningStore {
 public:
  explicit ReopeningStore(std::string path) : path_(std::move(path)) {}
  StatusOr<std::shared_ptr<const logstore::LogStore>> Current() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!store_ || now - opened_ > std::chrono::milliseconds(250)) {
      auto s = logstore::LogStore::Open(path_, {.read_only = true});
      if (!s.ok()) {
        if (store_) return store_;  // keep answering from the last copy
        return s.status();
      }
      store_ = std::shared_ptr<const logstore::LogStore>(std::move(s).value());
      opened_ = now;
    }
    return store_;
  }

 private:
  const std::string path_;
  Mutex mu_;
  std::shared_ptr<const logstore::LogStore> store_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point opened_ GUARDED_BY(mu_);
};

// Checkpoints for the view's runtime from the reopening store.
class ReopeningCheckpoints final : public follow::CheckpointSource {
 public:
  explicit ReopeningCheckpoints(ReopeningStore* store) : store_(store) {}
  Status Read(std::vector<v1::CheckpointRecord>* out) override {
    PROBITY_ASSIGN_OR_RETURN(auto store, store_->Current());
    PROBITY_ASSIGN_OR_RETURN(auto latest, store->LatestCheckpoint());
    if (latest && static_cast<int64_t>(latest->tree_size()) != last_size_) {
      last_size_ = static_cast<int64_t>(latest->tree_size());
      out->push_back(*latest);
    }
    return Status::Ok();
  }
  void Reset() override { last_size_ = -1; }

 private:
  ReopeningStore* store_;
  int64_t last_size_ = -1;
};

// Entries for the view from the reopening store.
class ReopeningSource final : public follow::EntrySource {
 public:
  explicit ReopeningSource(ReopeningStore* store) : store_(store) {}
  Status Read(uint64_t next, size_t max, std::vector<logstore::Entry>* out) override {
    PROBITY_ASSIGN_OR_RETURN(auto store, store_->Current());
    return follow::StoreSource(store.get()).Read(next, max, out);
  }

 private:
  ReopeningStore* store_;
};

}  // namespace

void AddApiServeOptions(CLI::App* cmd, ApiServeOptions* o, bool in_up) {
  auto* access = cmd->add_option(in_up ? "--api-access" : "--access", o->access_file,
                                 "Access file: the callers, their roles, scopes and token hashes "
                                 "(docs/api.md)" +
                                     std::string(in_up ? "; runs the api target" : ""));
  if (!in_up) access->required();
  cmd->add_option("--api-host", o->api.host, "Address the api listens on")->capture_default_str();
  cmd->add_option("--api-port", o->api.port, "Port the api listens on (0 = any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-state-dir", o->state_dir,
                  "Where the api keeps Idempotency-Key records (default DATA_DIR/api)");
  cmd->add_option("--tls-cert", o->api.tls_cert_file, "Serve HTTPS with this certificate (PEM)");
  cmd->add_option("--tls-key", o->api.tls_key_file, "... and this private key (PEM)");
  cmd->add_option("--tls-client-ca", o->api.client_ca_file,
                  "Require client certificates signed by this CA (mutual TLS)");
  cmd->add_option("--api-rate", o->api.rate_per_second, "Requests a second per caller")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--api-burst", o->api.rate_burst, "Requests a caller may make at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--api-max-page", o->api.max_page_size, "Largest page size a caller may ask")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--api-threads", o->api.threads, "Connections served at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--api-quiet", o->quiet, "No request log on stderr");
  cmd->add_option("--bundle-policy", o->bundle_policy_file,
                  "Verifier policy (JSON) that dispute bundles carry: the log's key, witnesses, "
                  "quorum" +
                      std::string(in_up ? " (default: the log's own key, no witnesses)" : ""));
}

Status ApiStack::Start(const ApiServeOptions& o, const bus::ClientConfig& bus, api::ReaderFn reader,
                       follow::EntrySource* source, follow::CheckpointSource* checkpoints,
                       const Runtime& rt, prometheus::Registry* registry) {
  api::ApiOptions options = o.api;
  if (!o.bundle_policy_file.empty()) {
    std::ifstream in(o.bundle_policy_file);
    if (!in) return IoError("cannot read bundle policy " + o.bundle_policy_file);
    std::stringstream text;
    text << in.rdbuf();
    auto policy = bundle::ParsePolicy(text.str());
    if (!policy.ok()) {
      return Status(policy.status().code(),
                    o.bundle_policy_file + ": " + policy.status().message());
    }
    options.bundle_policy = *policy;
  }
  PROBITY_ASSIGN_OR_RETURN(auto access, api::AccessControl::LoadFile(o.access_file));
  access_ = std::make_unique<api::AccessControl>(std::move(access));
  bus::ClientConfig cfg = bus;
  cfg.properties.emplace("linger.ms", "1");  // each record holds up an answer: send soon
  // Without Nagle: a produce request is sent while the previous one awaits its answer, rather
  // than held back until the broker's answer acknowledges it (docs/api.md, "Performance").
  cfg.properties.emplace("socket.nagle.disable", "true");
  bus_ = std::make_unique<bus::KafkaBus>(cfg);
  PROBITY_ASSIGN_OR_RETURN(publisher_, api::ConfirmingBusPublisher::Create(bus_.get()));
  PROBITY_ASSIGN_OR_RETURN(idempotency_, api::IdempotencyStore::Open(o.state_dir));
  PROBITY_ASSIGN_OR_RETURN(follow_publisher_, follow::BusPublisher::Create(bus_.get()));
  follow::Runtime::Options ro;
  ro.data_dir = o.state_dir + "/follow";
  std::error_code ec;
  std::filesystem::create_directories(ro.data_dir, ec);
  if (ec) return IoError("cannot create " + ro.data_dir + ": " + ec.message());
  // Saved beside the runtime's tree, with the cursor: a restart resumes from it.
  view_ = std::make_unique<api::View>(ro.data_dir + "/api-view.pb");
  if (options.bundle_policy) {
    ro.origin = options.bundle_policy->log_origin();
    PROBITY_ASSIGN_OR_RETURN(note::Verifier key,
                             note::Verifier::FromVerifierKey(options.bundle_policy->log_vkey()));
    ro.log_keys = o.log_keys.empty() ? std::vector<note::Verifier>{key} : o.log_keys;
  } else {
    checkpoints = nullptr;  // no key to check them with
  }
  runtime_ = std::make_unique<follow::Runtime>(ro, view_.get(), source, checkpoints,
                                               follow_publisher_.get(), rt.clock);
  PROBITY_RETURN_IF_ERROR(runtime_->Start());
  // The view has the whole log before the first request.
  while (true) {
    PROBITY_ASSIGN_OR_RETURN(size_t n, runtime_->RunOnce());
    if (n == 0) break;
  }
  follower_ = std::thread([this] {
    Status st = runtime_->Run(&stop_);
    MutexLock l(&mu_);
    follower_status_ = st;
  });
  // Request ids must not repeat across restarts: the access record's event id is made of one.
  std::random_device rd;
  options.instance_id = crypto::Sha256Hex(std::to_string(rd()) + std::to_string(rd()) +
                                          std::to_string(rt.clock->NowMicros()))
                            .substr(0, 12);
  api::LogFn log;
  if (!o.quiet) log = [](std::string_view line) { std::cerr << "api: " << line << "\n"; };
  server_ = std::make_unique<api::ApiServer>(options, access_.get(), std::move(reader), view_.get(),
                                             publisher_.get(), idempotency_.get(), rt.clock,
                                             registry, log);
  return server_->Start();
}

void ApiStack::Stop() {
  if (server_) server_->Stop();
  stop_ = true;
  if (follower_.joinable()) follower_.join();
  server_.reset();
  publisher_.reset();
}

Status ApiStack::follower_status() const {
  MutexLock l(&mu_);
  return follower_status_;
}

int RunApi(const ApiCommandOptions& o, const Runtime& rt) {
  ReopeningStore store(o.log_dir);
  auto first = store.Current();
  if (!first.ok()) return Fail("api", first.status());
  ReopeningSource source(&store);
  ReopeningCheckpoints checkpoints(&store);
  ApiServeOptions serve = o.serve;
  if (serve.state_dir.empty()) serve.state_dir = "./probity-api";
  if (!o.log_key.empty() && serve.bundle_policy_file.empty()) {
    auto texts = ReadLogKeyTexts(o.log_key);
    if (!texts.ok()) return Fail("api", texts.status());
    auto keys = note::ParseLogKeys(*texts);
    if (!keys.ok()) return Fail("api", keys.status());
    v1::VerifierPolicy policy;
    policy.set_log_origin(keys->front().name());
    policy.set_log_vkey(
        texts->front());  // the newest key: it signs the checkpoints bundles hold now
    serve.api.bundle_policy = policy;
    serve.log_keys = std::move(keys).value();
  } else if (serve.bundle_policy_file.empty()) {
    std::cerr << "probity api: no --log-key or --bundle-policy: checkpoints are NOT verified and "
                 "no dispute bundle is served\n";
  }
  auto registry = std::make_shared<prometheus::Registry>();
  ApiStack stack;
  Status st = stack.Start(
      serve, o.bus,
      [&store]() -> std::shared_ptr<const logstore::LogReader> {
        auto s = store.Current();
        return s.ok() ? *s : nullptr;
      },
      &source, &checkpoints, rt, registry.get());
  if (!st.ok()) return Fail("api", st);
  metrics::HttpServer http(registry, [&stack] {
    const Status f = stack.follower_status();
    return metrics::Health{.ready = f.ok(), .detail_json = "{}", .live = f.ok()};
  });
  st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("api", st);
  std::cout << "probity api: serving " << o.log_dir << " on "
            << (serve.api.tls_cert_file.empty() ? "http" : "https") << "://" << serve.api.host
            << ":" << stack.port() << "/v1/ (records to " << o.bus.bootstrap_servers
            << "); metrics on http://" << o.http.host << ":" << http.port() << "/metrics"
            << std::endl;
  while (!rt.stop->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Status f = stack.follower_status(); !f.ok()) {
      stack.Stop();
      return Fail("api", f);
    }
  }
  stack.Stop();
  std::cout << "probity api: stopped" << std::endl;
  return kExitOk;
}

}  // namespace probity::cli
