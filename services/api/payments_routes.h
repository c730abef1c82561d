// The api's payments routes (docs/api.md, "Payments"), apart from api.cc: a claim's dispute
// bundle, a payment run's export files, and money at stake. Internal to probity_api: api.cc
// registers them through AddPaymentsRoutes with its own request wrapper (authentication, rate,
// request id, metrics, the request log, error bodies), so these handlers only answer.
//
//   GET /v1/claims/{claim_id}/bundle       the claim's bundle (docs/bundle.md, "Claim bundles")
//   GET /v1/payments/exports/{date}        the export of payment run `date` (?since=, ?size=)
//   GET /v1/payments/money                 money at stake, in the caller's scope
//
// Each answer is against one signed checkpoint, and each read of a practice's data is recorded
// in the log (RecordAccess) before it is sent. What is out of the caller's scope is answered
// exactly as what does not exist.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/logstore/reader.h"
#include "common/status/status.h"
#include "probity/v1/proofs.pb.h"
#include "services/api/access.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace probity::api {

// What a payments handler gets from the server for one request.
struct PaymentsCall {
  const httplib::Request& req;
  httplib::Response& res;
  const Principal& who;
  std::shared_ptr<const logstore::LogReader> reader;  // null: the log cannot be read now
  // The practice's ICB as the api's view knows it ("" when unknown).
  std::function<std::string(std::string_view practice)> icb_of;
  // The checkpoint the answer is against (the request's checkpoint_size, else the latest).
  std::function<StatusOr<v1::Checkpoint>()> checkpoint;
  // Records the read on probity.access.v1 and waits for the bus; returns the record's event id.
  std::function<StatusOr<std::string>(const std::string& action, std::vector<std::string> practices,
                                      uint64_t tree_size, uint64_t served)>
      record_access;
  // What bundles tell their recipients to trust (nullopt: no bundles, 503).
  const std::optional<v1::VerifierPolicy>& bundle_policy;
};

// An answer other than 2xx: a Status, answered as the api answers every Status (InvalidArgument
// 400, NotFound 404, Unavailable 503, else 500), unless `http` names the HTTP status, with its
// stable code `error` and the status's message.
struct PaymentsProblem {
  explicit PaymentsProblem(Status s) : status(std::move(s)) {}
  Status status;
  int http = 0;
  std::string error;
};

using PaymentsHandler = std::function<std::optional<PaymentsProblem>(PaymentsCall&)>;
// Registers `handler` for GET `pattern` under the route name `name`.
using AddGetRoute = std::function<void(const std::string& pattern, const std::string& name,
                                       PaymentsHandler handler)>;

// Adds the three routes. The money-at-stake ledger they share lives as long as the handlers.
void AddPaymentsRoutes(const AddGetRoute& add);

}  // namespace probity::api
