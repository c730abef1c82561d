// The webhooks target: a follower of the audit log that tells configured HTTP endpoints about
// flags, decisions on flags and payment instructions, per the Standard Webhooks specification
// (docs/webhooks.md). Each entry of those kinds becomes one thin body (a v1::WebhookEvent printed
// by codec::ToJson) with webhook-id "wh_<log index>", routed by the routing file (routing.h) to
// the endpoints it names and nowhere else, and queued in the durable per-endpoint outbox
// (common/deliver) in the same write that moves the follower's cursor. Each endpoint then gets
// its queue from its own thread: signed at each attempt (webhook-timestamp is the attempt's time),
// retried with backoff and jitter for about three days (deliver::WebhookRetryPolicy()), slowed
// down on 429/502/504, disabled on 410, never redirected; what finally fails is recorded
// (Outbox::Failed, `probity webhooks failed`).
//
// A restart resumes from Restore(): nothing queued is lost, nothing is queued twice, and what an
// endpoint accepted is not sent again (except an attempt whose answer was lost with the process:
// receivers dedupe by webhook-id).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/deliver/outbox.h"
#include "common/follow/follower.h"
#include "common/status/status.h"
#include "common/time/clock.h"
#include "probity/v1/delivery.pb.h"
#include "services/webhooks/routing.h"
#include "services/webhooks/signing.h"

namespace rocksdb {
class DB;
}

namespace probity::webhooks {

// POSTs one webhook per attempt to one configured URL. Redirects are failures, never followed.
class HttpTransport final : public deliver::Transport {
 public:
  // url: http:// or https://, host, optional port, optional path.
  static StatusOr<std::unique_ptr<HttpTransport>> Create(const std::string& url,
                                                         std::vector<SigningKey> keys,
                                                         int timeout_seconds = 15);
  deliver::Outcome Send(const std::vector<const v1::OutboxItem*>& items, Micros now) override;

 private:
  std::string origin_;  // scheme://host:port
  std::string path_;
  std::vector<SigningKey> keys_;
  int timeout_seconds_ = 15;
};

// The webhook of a log entry, and what routing looks at; nullopt for kinds webhooks do not tell.
// `flag` is the flag a decision or instruction refers to, when known (its ICB, severity, rule).
struct Webhook {
  std::string id;  // webhook-id: "wh_<log index>"
  v1::WebhookEvent event;
  Subject subject;
};
std::optional<Webhook> WebhookFor(uint64_t index, const v1::Envelope& envelope,
                                  const v1::WebhookData* flag, const std::string& api_base_url);

class WebhooksFollower final : public follow::Follower {
 public:
  struct Options {
    std::string state_dir;  // the outbox is STATE_DIR/outbox, known flags STATE_DIR/flags
    bool sync = false;
    uint64_t seed = 1;  // jitter
    deliver::RetryPolicy policy = deliver::WebhookRetryPolicy();
  };
  // transports[i] delivers to routing.endpoints()[i]. REQUIRES: transports, clock and registry
  // (if given) outlive the follower.
  WebhooksFollower(Options options, Routing routing, std::vector<deliver::Transport*> transports,
                   const Clock* clock, prometheus::Registry* registry = nullptr);
  ~WebhooksFollower() override;

  std::string_view name() const override { return "webhooks"; }
  StatusOr<uint64_t> Restore() override;
  Status Apply(const follow::Event& event, follow::Publisher* out) override;
  Status Save(uint64_t next_index) override;

  // Starts / stops the per-endpoint delivery threads. REQUIRES: Restore() succeeded.
  void StartDelivery();
  void StopDelivery();
  deliver::Outbox* outbox() { return outbox_.get(); }
  uint64_t webhooks_queued() const { return queued_; }

 private:
  Options options_;
  Routing routing_;
  std::vector<deliver::Transport*> transports_;
  const Clock* clock_;
  prometheus::Registry* registry_;
  std::unique_ptr<deliver::Outbox> outbox_;
  std::unique_ptr<rocksdb::DB> flags_;  // flag id -> v1::WebhookData of its flag.raised
  uint64_t queued_ = 0;
};

// Loads the Ed25519 webhook signing key from DIR/probity.key (signed-note signer key), creating
// the pair (and DIR) when `create` and it is missing; writes the "whpk_" public key to
// `public_key_file` (if not empty) so receivers can be given it.
StatusOr<SigningKey> LoadOrCreateEd25519Key(const std::string& dir, bool create,
                                            const std::string& public_key_file);

// The signing keys of one endpoint: the Ed25519 key(s) (newest first) if it takes v1a, then its
// HMAC secrets read from its files (one "whsec_..." per file) if it takes v1.
StatusOr<std::vector<SigningKey>> EndpointKeys(const EndpointConfig& endpoint,
                                               const std::vector<SigningKey>& ed25519);

}  // namespace probity::webhooks
