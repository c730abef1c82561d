#include "services/cli/payments_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/bus/topics.h"
#include "common/logstore/store.h"
#include "common/metrics/http_server.h"
#include "services/cli/analysis_commands.h"
#include "services/cli/follow_support.h"
#include "services/payments/export.h"
#include "services/payments/payments.h"
#include "services/payments/target.h"

namespace probity::cli {

std::string DefaultHoldPolicyFile() {
  return std::string(PROBITY_SOURCE_DIR) + "/deploy/payments/hold-policy.yaml";
}

int RunPayments(const PaymentsOptions& o, const Runtime& rt) {
  auto rs = rules::LoadRuleSetFile(o.rules_file.empty() ? DefaultRulesFile() : o.rules_file);
  if (!rs.ok()) return Fail("payments", rs.status());
  auto policy = payments::LoadHoldPolicyFile(
      o.policy_file.empty() ? DefaultHoldPolicyFile() : o.policy_file, *rs);
  if (!policy.ok()) return Fail("payments", policy.status());
  bus::KafkaBus producer_bus(o.bus);
  auto in = OpenBusFollowInputs(o.bus, o.catch_up_from, o.log_key, "payments");
  if (!in.ok()) return Fail("payments", in.status());
  auto registry = std::make_shared<prometheus::Registry>();
  payments::PaymentsTarget target({.state_dir = o.data_dir + "/payments",
                                   .checkpoints = in->checkpoints.get(),
                                   .origin = in->origin,
                                   .log_keys = in->log_keys},
                                  *policy, in->entries.get(), &producer_bus, rt.clock,
                                  registry.get());
  Status st = target.Start();
  if (!st.ok()) return Fail("payments", st);
  metrics::HttpServer http(registry, [&] { return target.health(); });
  st = http.Start(o.http.host, o.http.port);
  if (!st.ok()) return Fail("payments", st);
  std::cout << "probity payments: hold policy " << policy->label() << " ("
            << policy->sha256_hex.substr(0, 12) << "), approve after " << policy->approve_after_days
            << " days of log time; following probity.log.v1 on " << o.bus.bootstrap_servers
            << "; metrics and health on http://" << o.http.host << ":" << http.port() << std::endl;
  st = target.Run(rt.stop);
  if (!st.ok()) return Fail("payments", st);
  auto s = target.follower().stats();
  std::cout << "probity payments: stopped at index " << target.next_index() << ", "
            << s.instructions << " instructions published" << std::endl;
  return kExitOk;
}

int RunPaymentsExport(const PaymentsExportOptions& o, const Runtime& rt) {
  const char* cmd = "payments export";
  auto date = ParseDateOption("--date", o.date);
  if (!date.ok()) return Fail(cmd, date.status());
  if (!o.since.empty()) {
    auto since = ParseDateOption("--since", o.since);
    if (!since.ok()) return Fail(cmd, since.status());
  }
  auto store = logstore::LogStore::Open(o.data_dir + "/log", {.read_only = true});
  if (!store.ok()) return Fail(cmd, store.status());
  int64_t log_time = 0;
  auto e = payments::ExportFromLog(**store, o.date, o.since, o.size, &log_time);
  if (!e.ok()) return Fail(cmd, e.status());
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Fail(cmd, IoError("cannot create " + o.out_dir + ": " + ec.message()));
  for (const payments::ExportFile* f : {&e->variation, &e->holds}) {
    const std::string path = o.out_dir + "/" + f->file_name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << f->content;
    out.flush();
    if (!out) return Fail(cmd, IoError("cannot write " + path));
    std::cout << path << "  " << f->rows << " rows  sha256 " << f->sha256_hex << "\n";
  }
  std::cout << "covers the log's first " << e->covers_tree_size << " entries (policy "
            << (e->policy_version.empty() ? "none" : e->policy_version) << ")" << std::endl;
  if (o.no_log) return kExitOk;
  auto producer = bus::Producer::Create(o.bus);
  if (!producer.ok()) return Fail(cmd, producer.status());
  for (const payments::ExportFile* f : {&e->variation, &e->holds}) {
    v1::Envelope env = payments::MakeExportEnvelope(*e, *f, log_time);
    Status st = (*producer)->Produce(bus::kPaymentInstructionsTopic, -1, env.event_id(),
                                     payments::SerializeInstruction(env));
    if (!st.ok()) return Fail(cmd, st);
  }
  Status st = (*producer)->Flush(30000);
  if (st.ok()) st = (*producer)->TakeDeliveryFailure();
  if (!st.ok()) return Fail(cmd, st);
  std::cout << "logged both SHA-256s as PaymentExport entries (via " << o.bus.bootstrap_servers
            << ")" << std::endl;
  (void)rt;
  return kExitOk;
}

void AddPaymentsCommands(CLI::App& app, PaymentsCliOptions* o, const Runtime& rt,
                         std::function<int()>* action) {
  auto chosen = [action](CLI::App* cmd, std::function<int()> run) {
    cmd->callback([action, run = std::move(run)] {
      if (!*action) *action = run;  // a subcommand's callback runs before its parent's
    });
  };
  auto* pay = app.add_subcommand(
      "payments",
      "Run the payments target: follow probity.log.v1, publish payment instructions "
      "(approve, hold, release, withhold, reverse)");
  pay->require_subcommand(0, 1);
  pay->add_option("--bootstrap-servers", o->run.bus.bootstrap_servers, "Kafka bootstrap servers")
      ->capture_default_str();
  pay->add_option("--data-dir", o->run.data_dir, "State goes in DATA_DIR/payments")
      ->capture_default_str();
  pay->add_option("--hold-policy", o->run.policy_file,
                  "Hold policy file (default deploy/payments/hold-policy.yaml)");
  pay->add_option("--rules", o->run.rules_file,
                  "The rules target's rule set, to check the policy's waits against "
                  "(default deploy/rules/default.yaml)");
  pay->add_option("--http-host", o->run.http.host, "Address for /metrics and /healthz")
      ->capture_default_str();
  pay->add_option("--http-port", o->run.http.port, "Port for /metrics and /healthz (0 = any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  pay->add_option("--catch-up-from", o->run.catch_up_from,
                  "A verified copy of the log to read entries retention has taken");
  pay->add_option("--log-key", o->run.log_key,
                  "The log's verifier key file: every checkpoint is verified against it");
  chosen(pay, [o, &rt] { return RunPayments(o->run, rt); });

  auto* ex = pay->add_subcommand(
      "export",
      "Write the contract-variation CSV and the hold/release file of a payment run from the log, "
      "and log their SHA-256");
  ex->add_option("--date", o->export_.date, "The payment run, YYYY-MM-DD")->required();
  ex->add_option("--since", o->export_.since,
                 "Also every earlier run from this date, YYYY-MM-DD (default: --date only)");
  ex->add_option("--size", o->export_.size,
                 "Export the log's first SIZE entries (reproduce an earlier export; default: all)");
  ex->add_option("--data-dir", o->export_.data_dir, "Probity data directory (the log)")
      ->capture_default_str();
  ex->add_option("--out-dir", o->export_.out_dir, "Where the files go")->capture_default_str();
  ex->add_option("--bootstrap-servers", o->export_.bus.bootstrap_servers,
                 "Kafka to log the exports' SHA-256 through")
      ->capture_default_str();
  ex->add_flag("--no-log", o->export_.no_log, "Write the files only (a reproduction)");
  chosen(ex, [o, &rt] { return RunPaymentsExport(o->export_, rt); });
}

}  // namespace probity::cli
