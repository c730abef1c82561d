// The HTTP face every target serves: /metrics (Prometheus text format, from the registry the
// entry point created and injected into components) and /healthz (readiness as JSON). Further
// routes (the api target's) can be added before Start().
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status/status.h"

namespace httplib {
class Server;
}

namespace probity::metrics {

// Binds `server` to host:port (port 0: any free port; *bound_port says which) and runs it on
// *thread, returning once it is listening (so that server->stop() reaches it). kUnavailable if
// the address cannot be bound. Used by every HTTP face (this file's, tiles, witness).
Status ListenInBackground(httplib::Server* server, const std::string& host, int port,
                          const std::string& what, int* bound_port, std::thread* thread);

// What /healthz, /readyz and /livez answer: /healthz and /readyz 200 when ready, else 503; /livez
// 200 when live, else 503 (an orchestrator restarts a target that is not live, and sends no work
// to one that is not ready). The body is detail_json in every case.
struct Health {
  bool ready = false;
  std::string detail_json = "{}";  // a JSON object (a probity.v1.HealthReport)
  bool live = true;
};

class HttpServer {
 public:
  using HealthFn = std::function<Health()>;
  // REQUIRES: registry outlives the server.
  HttpServer(std::shared_ptr<prometheus::Registry> registry, HealthFn health);
  ~HttpServer();

  // Binds host:port (port 0 picks one; see port()) and serves on a background thread.
  Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  HealthFn health_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace probity::metrics
