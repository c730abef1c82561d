#include "services/webhooks/target.h"

#include <filesystem>

#include "common/follow/bus_publisher.h"
#include "common/follow/runtime.h"

namespace probity::webhooks {

StatusOr<Setup> Setup::Prepare(const std::string& routing_file, const std::string& key_dir,
                               const std::string& public_key_file) {
  Setup s;
  PROBITY_ASSIGN_OR_RETURN(s.routing, Routing::LoadFile(routing_file));
  PROBITY_ASSIGN_OR_RETURN(SigningKey ed, LoadOrCreateEd25519Key(key_dir, true, public_key_file));
  s.public_key = ed.public_key();
  std::vector<SigningKey> ed_keys = {ed};
  if (std::filesystem::exists(key_dir + ".previous/probity.key")) {
    PROBITY_ASSIGN_OR_RETURN(SigningKey previous,
                             LoadOrCreateEd25519Key(key_dir + ".previous", false, ""));
    ed_keys.push_back(std::move(previous));
  }
  for (const EndpointConfig& ep : s.routing.endpoints()) {
    PROBITY_ASSIGN_OR_RETURN(auto keys, EndpointKeys(ep, ed_keys));
    PROBITY_ASSIGN_OR_RETURN(auto t, HttpTransport::Create(ep.url, std::move(keys)));
    s.transports.push_back(std::move(t));
  }
  return s;
}

Status RunTarget(Setup* setup, const LogInputs& log, const TargetOptions& options,
                 const Clock* clock, const std::atomic<bool>* stop, prometheus::Registry* registry,
                 std::function<void(std::function<metrics::Health()>)> health) {
  std::vector<deliver::Transport*> transports;
  for (auto& t : setup->transports) transports.push_back(t.get());
  WebhooksFollower::Options fo{.state_dir = options.state_dir};
  fo.seed = static_cast<uint64_t>(clock->NowMicros());
  fo.policy.first_delay = options.first_retry_ms * 1000;
  WebhooksFollower follower(fo, setup->routing, transports, clock, registry);
  bus::KafkaBus bus(log.bus);
  PROBITY_ASSIGN_OR_RETURN(auto publisher, follow::BusPublisher::Create(&bus));
  follow::Runtime runtime({.data_dir = options.state_dir + "/runtime",
                           .origin = log.origin,
                           .log_keys = log.log_keys,
                           .save_every = 1'000'000,
                           .registry = registry},
                          &follower, log.entries, log.checkpoints, publisher.get(), clock);
  PROBITY_RETURN_IF_ERROR(runtime.Start());  // restores the follower: its outbox is open
  if (health) health([&runtime] { return runtime.health(); });
  follower.StartDelivery();
  Status st = runtime.Run(stop);
  follower.StopDelivery();
  if (health) health({});
  if (st.ok()) st = follower.outbox()->thread_status();
  return st;
}

}  // namespace probity::webhooks
