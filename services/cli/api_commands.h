// The api inside `probity api` and `probity up`: its options on the command line, and the stack
// that runs it (a View fed from the log, the bus publisher, the idempotency store and the HTTP
// server). The option structs are in commands.h.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/bus/kafka.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/runtime.h"
#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "services/api/api.h"
#include "services/cli/commands.h"

namespace CLI {
class App;
}

namespace probity::cli {

// Adds the api's serving options (--access, --api-host/--api-port, TLS, limits) to `cmd`.
void AddApiServeOptions(CLI::App* cmd, ApiServeOptions* o, bool in_up);

// The api and what it runs on, started together and stopped in reverse order.
class ApiStack {
 public:
  ~ApiStack() { Stop(); }
  // `reader` answers requests; `source` and `checkpoints` feed the view through the follower
  // runtime (both over the same log), which checks each checkpoint with the log key of the bundle
  // policy, when there is one. REQUIRES: source and checkpoints outlive the stack.
  // The api's metrics go to `registry` when given (REQUIRES: it outlives the stack).
  Status Start(const ApiServeOptions& o, const bus::ClientConfig& bus, api::ReaderFn reader,
               follow::EntrySource* source, follow::CheckpointSource* checkpoints,
               const Runtime& rt, prometheus::Registry* registry = nullptr);
  void Stop();
  int port() const { return server_ ? server_->port() : 0; }
  // How the view's runtime ended, once it has (it ends only on evidence of a damaged log).
  Status follower_status() const EXCLUDES(mu_);

 private:
  std::unique_ptr<api::AccessControl> access_;
  std::unique_ptr<bus::KafkaBus> bus_;
  std::unique_ptr<api::ConfirmingBusPublisher> publisher_;
  std::unique_ptr<api::IdempotencyStore> idempotency_;
  std::unique_ptr<api::View> view_;
  std::unique_ptr<follow::BusPublisher> follow_publisher_;
  std::unique_ptr<follow::Runtime> runtime_;
  std::atomic<bool> stop_{false};
  std::thread follower_;
  mutable Mutex mu_;
  Status follower_status_ GUARDED_BY(mu_);
  std::unique_ptr<api::ApiServer> server_;
};

}  // namespace probity::cli
