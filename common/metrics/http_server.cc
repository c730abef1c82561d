#include "common/metrics/http_server.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>

namespace probity::metrics {

HttpServer::HttpServer(std::shared_ptr<prometheus::Registry> registry, HealthFn health)
    : registry_(std::move(registry)),
      health_(std::move(health)),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    res.set_content(out.str(), "text/plain; version=0.0.4");
  });
  auto readiness = [this](const httplib::Request&, httplib::Response& res) {
    Health h = health_ ? health_() : Health{true, "{}"};
    res.status = h.ready ? 200 : 503;
    res.set_content(h.detail_json, "application/json");
  };
  server_->Get("/healthz", readiness);
  server_->Get("/readyz", readiness);
  server_->Get("/livez", [this](const httplib::Request&, httplib::Response& res) {
    Health h = health_ ? health_() : Health{true, "{}"};
    res.status = h.live ? 200 : 503;
    res.set_content(h.detail_json, "application/json");
  });
}

HttpServer::~HttpServer() { Stop(); }

Status ListenInBackground(httplib::Server* server, const std::string& host, int port,
                          const std::string& what, int* bound_port, std::thread* thread) {
  if (port == 0) {
    *bound_port = server->bind_to_any_port(host);
    if (*bound_port <= 0) return Unavailable(what + ": cannot bind " + host);
  } else {
    if (!server->bind_to_port(host, port)) {
      return Unavailable(what + ": cannot listen on " + host + ":" + std::to_string(port) +
                         " (in use? choose another port)");
    }
    *bound_port = port;
  }
  *thread = std::thread([server] { server->listen_after_bind(); });
  // httplib's stop() only reaches a server already listening: wait for it, so that a Stop() right
  // after Start() (a target failing as it starts) cannot miss it and join a thread that never ends.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

Status HttpServer::Start(const std::string& host, int port) {
  return ListenInBackground(server_.get(), host, port, "http", &port_, &thread_);
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace probity::metrics
