// An embedded bus and an ingest service writing a log store, in this process, as `probity up`
// wires them: what in-process end-to-end tests of a follower (rules, payments) stand on.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/bus/embedded_cluster.h"
#include "common/bus/kafka.h"
#include "common/logstore/store.h"
#include "common/note/note.h"
#include "common/time/clock.h"
#include "services/ingest/ingest.h"

namespace probity::testing {

// Polls `cond` every 20 ms for up to `seconds`; whether it became true.
inline bool WaitFor(const std::function<bool()>& cond, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class IngestStack {
 public:
  // Starts the bus, opens DIR/log (DIR is a fresh temporary directory named after `name`) and
  // runs ingest (with options `o`, its origin set to the test key's) on a thread. Call with
  // ASSERT_NO_FATAL_FAILURE.
  void Start(const std::string& name, ingest::IngestOptions o = {}) {
    dir = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    cluster = std::move(bus::EmbeddedCluster::Start({})).value();
    cfg = {cluster->bootstrap_servers(), {}};
    auto kp = note::GenerateKey("probity.test/log");
    signer.emplace(std::move(note::Signer::FromSignerKey(kp->signer_key)).value());
    auto s = logstore::LogStore::Open((dir / "log").string(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(s).value();
    o.checkpoint_origin = "probity.test/log";
    ingest =
        std::make_unique<ingest::IngestService>(o, cfg, store.get(), &clock, &registry, &*signer);
    ASSERT_TRUE(ingest->Start().ok());
    ingest_thread = std::thread([this] { ingest_status = ingest->Run(&ingest_stop); });
    producer = std::move(bus::Producer::Create(cfg)).value();
  }
  // Stops ingest (it drains, publishes everything and signs a final checkpoint), expecting it
  // ended cleanly; the store stays open. Idempotent.
  void StopIngest() {
    ingest_stop = true;
    if (ingest_thread.joinable()) {
      ingest_thread.join();
      EXPECT_TRUE(ingest_status.ok()) << ingest_status.ToString();
    }
  }
  // Stops ingest, closes the store and removes the directory.
  void Stop() {
    StopIngest();
    ingest.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::filesystem::path dir;
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  bus::ClientConfig cfg;
  std::optional<note::Signer> signer;
  SystemClock clock;
  prometheus::Registry registry;
  std::unique_ptr<logstore::LogStore> store;
  std::unique_ptr<ingest::IngestService> ingest;
  std::unique_ptr<bus::Producer> producer;

 private:
  std::thread ingest_thread;
  std::atomic<bool> ingest_stop{false};
  Status ingest_status;
};

}  // namespace probity::testing
