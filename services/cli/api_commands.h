// `probity api`, and the api inside `probity up`: options, and the stack that runs it (a View fed
// from the log, the bus publisher, the idempotency store and the HTTP server).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/bus/kafka.h"
#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "services/api/api.h"
#include "services/api/feeder.h"
#include "services/cli/commands.h"

namespace CLI {
class App;
}

namespace probity::cli {

// What `probity api` and `probity up --api-access` take.
struct ApiServeOptions {
  std::string access_file;  // the callers (docs/api.md, "Access file"); required
  std::string state_dir;    // idempotency records; default DATA_DIR/api
  api::ApiOptions api{.port = 9470};
  bool quiet = false;  // no request log on stderr
};

struct ApiCommandOptions {
  bus::ClientConfig bus{kDefaultBootstrapServers, {}};
  std::string log_dir =
      std::string(kDefaultDataDir) + "/log";  // a store: the sequencer's or a replica's
  ApiServeOptions serve;
};

// Adds the api's serving options (--access, --api-host/--api-port, TLS, limits) to `cmd`.
void AddApiServeOptions(CLI::App* cmd, ApiServeOptions* o, bool in_up);
int RunApi(const ApiCommandOptions& o, const Runtime& rt);

// The api and what it runs on, started together and stopped in reverse order.
class ApiStack {
 public:
  ~ApiStack() { Stop(); }
  // `reader` answers requests; `source` feeds the view (both over the same log). REQUIRES:
  // source outlives the stack.
  Status Start(const ApiServeOptions& o, const bus::ClientConfig& bus, api::ReaderFn reader,
               follow::EntrySource* source, const Runtime& rt);
  void Stop();
  int port() const { return server_ ? server_->port() : 0; }
  Status feeder_status() const { return feeder_ ? feeder_->status() : Status::Ok(); }

 private:
  std::unique_ptr<api::AccessControl> access_;
  std::unique_ptr<bus::KafkaBus> bus_;
  std::unique_ptr<api::BusPublisher> publisher_;
  std::unique_ptr<api::IdempotencyStore> idempotency_;
  std::unique_ptr<api::View> view_;
  std::unique_ptr<api::ViewFeeder> feeder_;
  std::unique_ptr<api::ApiServer> server_;
};

}  // namespace probity::cli
