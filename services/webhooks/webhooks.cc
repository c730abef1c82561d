#include "services/webhooks/webhooks.h"

#include <httplib.h>
#include <rocksdb/db.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/codec/codec.h"
#include "common/note/key_files.h"
#include "common/time/civil.h"
#include "common/time/proto_time.h"

namespace probity::webhooks {
namespace {

// "SEVERITY_CRITICAL" -> "critical", "DECISION_OUTCOME_UPHOLD" -> "uphold".
std::string ShortEnumName(const std::string& name, std::string_view prefix) {
  std::string s = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

StatusOr<std::string> ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return IoError("webhooks state: " + what + ": " + s.ToString());
}

}  // namespace

StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(const std::string& url,
                                                               std::vector<SigningKey> keys,
                                                               int timeout_seconds) {
  auto t = std::unique_ptr<HttpTransport>(new HttpTransport());
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    return InvalidArgument("webhook url '" + url + "' must start with http:// or https://");
  }
  const size_t path_start = url.find('/', scheme_end + 3);
  t->origin_ = url.substr(0, path_start);
  t->path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (t->origin_.size() <= scheme_end + 3)
    return InvalidArgument("webhook url '" + url + "' has no host");
  if (keys.empty()) return InvalidArgument("webhook url '" + url + "' has no signing key");
  t->keys_ = std::move(keys);
  t->timeout_seconds_ = timeout_seconds;
  return t;
}

deliver::Outcome HttpTransport::Send(const std::vector<const v1::OutboxItem*>& items, Micros now) {
  const v1::OutboxItem& item = *items.front();
  const int64_t ts = now / deliver::kSecond;
  auto sig = SignatureHeader(keys_, item.id(), ts, item.body());
  if (!sig.ok()) return {.kind = deliver::Outcome::kFailed, .detail = sig.status().ToString()};
  httplib::Client cli(origin_);
  cli.set_follow_location(false);  // only configured endpoints are ever called
  cli.set_connection_timeout(timeout_seconds_);
  cli.set_read_timeout(timeout_seconds_);
  cli.set_write_timeout(timeout_seconds_);
  const httplib::Headers headers = {{"webhook-id", item.id()},
                                    {"webhook-timestamp", std::to_string(ts)},
                                    {"webhook-signature", *sig},
                                    {"User-Agent", "probity-webhooks/1"}};
  auto res = cli.Post(path_, headers, item.body(), "application/json");
  if (!res) {
    return {.kind = deliver::Outcome::kFailed,
            .detail = origin_ + path_ + ": " + httplib::to_string(res.error())};
  }
  Micros retry_after = 0;
  const std::string ra = res->get_header_value("Retry-After");
  if (!ra.empty() && ra.size() < 10 &&
      std::all_of(ra.begin(), ra.end(), [](char c) { return std::isdigit(c); })) {
    retry_after = std::stoll(ra) * deliver::kSecond;
  }
  std::string detail = "HTTP " + std::to_string(res->status);
  if (res->status >= 300 && res->status < 400) {
    detail += " (redirect to '" + res->get_header_value("Location") + "' not followed)";
  }
  return deliver::Outcome::FromHttpStatus(res->status, std::move(detail), retry_after);
}

std::optional<Webhook> WebhookFor(uint64_t index, const v1::Envelope& env,
                                  const v1::WebhookData* flag, const std::string& api_base_url) {
  Webhook w;
  w.id = "wh_" + std::to_string(index);
  v1::WebhookData& d = *w.event.mutable_data();
  d.set_log_index(index);
  d.set_event_id(env.event_id());
  d.set_practice(env.practice_code());
  if (flag) {
    d.set_icb(flag->icb());
    d.set_severity(flag->severity());
    d.set_rule_id(flag->rule_id());
  }
  std::string link = "/v1/entries/" + std::to_string(index);
  switch (env.payload_case()) {
    case v1::Envelope::kFlag: {
      const v1::Flag& f = env.flag();
      w.event.set_type(kFlagRaised);
      d.set_flag_id(f.flag_id());
      d.set_icb(f.icb_code());
      d.set_severity(ShortEnumName(v1::Severity_Name(f.severity()), "SEVERITY_"));
      d.set_rule_id(f.rule_id());
      link = "/v1/flags/" + f.flag_id();
      break;
    }
    case v1::Envelope::kFlagDecision: {
      const v1::FlagDecision& fd = env.flag_decision();
      w.event.set_type(kFlagDecided);
      d.set_flag_id(fd.flag_id());
      d.set_decision(ShortEnumName(v1::DecisionOutcome_Name(fd.outcome()), "DECISION_OUTCOME_"));
      link = "/v1/flags/" + fd.flag_id();
      break;
    }
    case v1::Envelope::kPaymentInstruction: {
      const v1::PaymentInstruction& pi = env.payment_instruction();
      w.event.set_type(kPaymentInstruction);
      d.set_instruction_id(pi.instruction_id());
      d.set_flag_id(pi.flag_id());
      d.set_action(ShortEnumName(v1::PaymentAction_Name(pi.action()), "PAYMENT_ACTION_"));
      if (!pi.icb_code().empty()) d.set_icb(pi.icb_code());
      break;
    }
    default:
      return std::nullopt;
  }
  if (!api_base_url.empty()) d.set_api_link(api_base_url + link);
  w.event.set_timestamp(civil::FormatRfc3339(FromTimestamp(env.occurred_at())));
  w.subject = {.event = w.event.type(),
               .practice = d.practice(),
               .icb = d.icb(),
               .rule = d.rule_id(),
               .severity = d.severity()};
  return w;
}

WebhooksFollower::WebhooksFollower(Options options, Routing routing,
                                   std::vector<deliver::Transport*> transports, const Clock* clock,
                                   prometheus::Registry* registry)
    : options_(std::move(options)),
      routing_(std::move(routing)),
      transports_(std::move(transports)),
      clock_(clock),
      registry_(registry) {}

WebhooksFollower::~WebhooksFollower() { StopDelivery(); }

StatusOr<uint64_t> WebhooksFollower::Restore() {
  // The runtime restores again after a retriable error: the outbox is the state, and stays open
  // (its delivery threads keep running).
  if (outbox_) return outbox_->source_next();
  if (transports_.size() != routing_.endpoints().size()) {
    return InvalidArgument("webhooks: one transport per endpoint is needed");
  }
  std::vector<deliver::DestinationConfig> dests;
  for (size_t i = 0; i < transports_.size(); ++i) {
    dests.push_back({.name = routing_.endpoints()[i].name,
                     .transport = transports_[i],
                     .policy = options_.policy,
                     .max_batch = 1});
  }
  PROBITY_ASSIGN_OR_RETURN(outbox_, deliver::Outbox::Open({.path = options_.state_dir + "/outbox",
                                                           .sync = options_.sync,
                                                           .seed = options_.seed},
                                                          std::move(dests), clock_, registry_));
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  PROBITY_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(o, options_.state_dir + "/flags", &raw), "open flags"));
  flags_.reset(raw);
  return outbox_->source_next();
}

Status WebhooksFollower::Apply(const follow::Event& event, follow::Publisher*) {
  if (event.index < outbox_->source_next()) return Status::Ok();  // already queued
  const v1::Envelope& env = *event.envelope;
  std::optional<v1::WebhookData> flag;
  std::string flag_id;
  if (env.has_flag_decision()) flag_id = env.flag_decision().flag_id();
  if (env.has_payment_instruction()) flag_id = env.payment_instruction().flag_id();
  if (!flag_id.empty()) {
    std::string v;
    rocksdb::Status s = flags_->Get(rocksdb::ReadOptions(), flag_id, &v);
    if (s.ok()) {
      flag.emplace();
      if (!flag->ParseFromString(v)) return DataLoss("webhooks state: flag " + flag_id);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "read flag");
    }
  }
  std::optional<Webhook> w =
      WebhookFor(event.index, env, flag ? &*flag : nullptr, routing_.api_base_url());
  if (!w) return Status::Ok();
  if (env.has_flag()) {
    // Written before the cursor moves past it; a replay writes the same bytes again.
    PROBITY_RETURN_IF_ERROR(FromRocks(flags_->Put(rocksdb::WriteOptions(), env.flag().flag_id(),
                                                  w->event.data().SerializeAsString()),
                                      "write flag"));
  }
  const std::vector<size_t> endpoints = routing_.EndpointsFor(w->subject);
  if (endpoints.empty()) return Status::Ok();
  // Every field, even empty: a fixed shape for receivers.
  const std::string body = codec::ToJson(w->event, codec::JsonOptions{.print_defaults = true});
  std::vector<deliver::NewItem> items;
  for (size_t e : endpoints) items.push_back({.destination = e, .id = w->id, .body = body});
  PROBITY_RETURN_IF_ERROR(outbox_->Enqueue(items, event.index + 1));
  queued_ += items.size();
  return Status::Ok();
}

Status WebhooksFollower::Save(uint64_t next_index) {
  if (next_index <= outbox_->source_next()) return Status::Ok();
  return outbox_->SetSourceNext(next_index);
}

void WebhooksFollower::StartDelivery() { outbox_->Start(); }
void WebhooksFollower::StopDelivery() {
  if (outbox_) outbox_->Stop();
}

StatusOr<SigningKey> LoadOrCreateEd25519Key(const std::string& dir, bool create,
                                            const std::string& public_key_file) {
  const std::string path = dir + "/" + note::kSignerKeyFile;
  if (!std::filesystem::exists(path)) {
    if (!create) return NotFound("no webhook signing key at " + path);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IoError("cannot create " + dir + ": " + ec.message());
    PROBITY_ASSIGN_OR_RETURN(note::KeyPair kp, note::GenerateKey("probity-webhooks"));
    PROBITY_RETURN_IF_ERROR(note::WriteKeyFiles(kp, dir));
  }
  PROBITY_ASSIGN_OR_RETURN(std::string text, ReadTrimmed(path));
  PROBITY_ASSIGN_OR_RETURN(note::Signer signer, note::Signer::FromSignerKey(text));
  SigningKey key = SigningKey::Ed25519(std::move(signer));
  if (!public_key_file.empty()) {
    std::ofstream out(public_key_file, std::ios::trunc);
    out << key.public_key() << "\n";
    if (!out) return IoError("cannot write " + public_key_file);
  }
  return key;
}

StatusOr<std::vector<SigningKey>> EndpointKeys(const EndpointConfig& endpoint,
                                               const std::vector<SigningKey>& ed25519) {
  std::vector<SigningKey> keys;
  if (endpoint.ed25519) keys = ed25519;
  if (endpoint.hmac) {
    for (const std::string& file : endpoint.hmac_secret_files) {
      PROBITY_ASSIGN_OR_RETURN(std::string secret, ReadTrimmed(file));
      auto k = SigningKey::Hmac(secret);
      if (!k.ok()) {
        return InvalidArgument("endpoint '" + endpoint.name + "': " + file + ": " +
                               k.status().message());
      }
      keys.push_back(*std::move(k));
    }
  }
  if (keys.empty()) return InvalidArgument("endpoint '" + endpoint.name + "' has no signing key");
  return keys;
}

}  // namespace probity::webhooks
