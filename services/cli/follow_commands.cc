// The follower targets' shared wiring (follow_support.h).
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/metrics/http_server.h"
#include "common/note/key_files.h"
#include "services/cli/commands.h"
#include "services/cli/follow_support.h"
#include "services/replica/compare.h"
#include "services/replica/replica.h"

namespace probity::cli {

StatusOr<std::vector<std::string>> ReadLogKeyTexts(const std::string& path) {
  if (!std::ifstream(path)) return NotFound("cannot read the log's verifier key " + path);
  StatusOr<std::vector<std::string>> keys = note::LoadVerifierKeyTexts(path);
  if (!keys.ok()) return Status(keys.status().code(), path + ": " + keys.status().message());
  return keys;
}

StatusOr<BusFollowInputs> OpenBusFollowInputs(const bus::ClientConfig& bus,
                                              const std::string& catch_up_from,
                                              const std::string& log_key_file,
                                              const std::string& target) {
  BusFollowInputs in;
  PROBITY_ASSIGN_OR_RETURN(in.topic, follow::LogTopicSource::Create(bus));
  in.entries = std::make_unique<follow::CatchUpSource>(in.topic.get(), catch_up_from);
  if (log_key_file.empty()) {
    std::cerr << "probity " << target
              << ": no --log-key: checkpoints are NOT verified (leaf hashes and this follower's "
                 "own tree are)\n";
    return in;
  }
  // The log's keys: one, or after a rotation the new one and those it replaced, one per line.
  PROBITY_ASSIGN_OR_RETURN(std::vector<std::string> texts, ReadLogKeyTexts(log_key_file));
  PROBITY_ASSIGN_OR_RETURN(in.log_keys, note::ParseLogKeys(texts));
  in.origin = in.log_keys.front().name();
  PROBITY_ASSIGN_OR_RETURN(in.checkpoints, follow::CheckpointTopicSource::Create(bus));
  return in;
}

int RunReplica(const ReplicaCommandOptions& o, const Runtime& rt) {
  auto in = OpenBusFollowInputs(o.bus, o.catch_up_from, o.log_key, "replica");
  if (!in.ok()) return Fail("replica", in.status());
  auto registry = std::make_shared<prometheus::Registry>();
  replica::ReplicaRunner runner({.data_dir = o.data_dir,
                                 .sync = o.sync,
                                 .origin = in->origin,
                                 .log_keys = in->log_keys,
                                 .registry = registry.get()},
                                in->entries.get(), in->checkpoints.get(), rt.clock);
  Status st = runner.Start();
  if (!st.ok()) return Fail("replica", st);
  metrics::HttpServer http(registry, [&] { return runner.health(); });
  st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("replica", st);
  std::cout << "probity replica: following probity.log.v1 on " << o.bus.bootstrap_servers
            << " into " << o.data_dir << "/log (log key " << in->origin << "); health on http://"
            << o.http.host << ":" << http.port() << "/healthz" << std::endl;
  st = runner.Run(rt.stop);
  if (!st.ok()) return Fail("replica", st);
  auto s = runner.stats();
  std::cout << "probity replica: stopped with " << s.next_index << " entries, verified to "
            << s.verified_size << " (" << s.checkpoints_verified << " checkpoints)" << std::endl;
  return kExitOk;
}

int ReplicaCompare(const ReplicaCompareOptions& o) {
  auto primary = logstore::LogStore::Open(o.primary, {.read_only = true});
  if (!primary.ok()) return Fail("replica compare", primary.status());
  auto copy = logstore::LogStore::Open(o.replica, {.read_only = true});
  if (!copy.ok()) return Fail("replica compare", copy.status());
  auto c =
      replica::CompareStores(**primary, **copy, {.every_checkpoint = !o.latest_checkpoint_only});
  if (!c.ok()) return Fail("replica compare", c.status());
  for (const std::string& d : c->differences) std::cout << "differs: " << d << "\n";
  std::cout << (c->equal() ? "equal" : "DIFFERENT") << ": tree size " << c->tree_size << ", "
            << c->entries << " entries, " << c->tiles << " tiles, " << c->event_keys
            << " idx_event and " << c->practice_keys << " idx_practice keys, " << c->kind_indices
            << " idx_kind indices, " << c->checkpoints << " of the primary's "
            << c->primary_checkpoints << " checkpoints" << std::endl;
  return c->equal() ? kExitOk : kExitDataLoss;
}

}  // namespace probity::cli
