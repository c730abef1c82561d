// Internal to probity_generate: the anomalies the generator injects. A kind of anomaly is one
// AnomalyKind object, registered once (anomalies.cc): its name, the rule kind that must detect
// it, which practices can carry it, and how it is planned (what it changes, as an Injection, and
// what the truth records). The generator deals kinds out and calls the hooks; it has no code
// for any particular kind. docs/generator.md ("Anomalies and ground truth") describes each
// kind; docs/architecture.md says where a new one goes.
//
// Determinism: every hook runs on the generator's one thread at a fixed point of the stream and
// may draw from the Rng it is given. Those draws are part of the stream: for the same input an
// implementation MUST draw the same values in the same order, and MUST NOT keep state that
// changes between runs (Generator::Run may be called again and emits the same stream).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probity/v1/events.pb.h"
#include "services/generate/generator.h"
#include "services/generate/model.h"
#include "services/generate/random.h"
#include "services/generate/truth.h"

namespace probity::generate::internal {

// One claim about to be queued for emission.
struct ClaimDraft {
  ClaimSpec spec;
  Micros submitted = 0;  // occurred_at
  v1::ClaimStatus status = v1::CLAIM_STATUS_PAID;
  std::string claim_id;
  std::string remember_as;  // remember this claim's event id under this name
  std::string supersedes;   // set supersedes_event_id to the event id remembered under this name
};
// Queues one claim (drawing its recording delay from the Rng that QueueClaim was given).
using ClaimQueue = std::function<void(ClaimDraft)>;

// What one practice's anomaly changes in its stream: made by AnomalyKind::Plan, owned by the
// practice. Every hook defaults to "no change" and is called only for that practice.
class Injection {
 public:
  virtual ~Injection() = default;

  // The annual total (pence) of reference payment column `column`, from which its claims are
  // planned.
  virtual int64_t ColumnTotal(int column, int64_t total) const { return total; }
  // The shares of a day's patient contacts by mode (face-to-face, telephone, video, home visit)
  // and the share out of hours.
  virtual void AdjustContacts(std::array<double, 4>* mode_shares, double* out_of_hours) const {}
  // Queues one planned claim of the range. The default queues it unchanged; an override may
  // change it, queue further claims before or after it, and draw from `rng` (as `queue` does).
  virtual void QueueClaim(Rng& rng, ClaimDraft draft, const ClaimQueue& queue) const {
    queue(std::move(draft));
  }
  // Plans the practice's contract-monitoring visits into p.visits instead of the clean plan,
  // drawing from `rng`; may complete *truth. False (nothing drawn) keeps the clean plan.
  virtual bool PlanVisits(const GeneratorParams& params, Rng& rng, Practice& p,
                          TruthEntry* truth) const {
    return false;
  }
  // The list size at quarterly register update i (quarters: the starts of the range's
  // quarters), instead of the clean drift from `list`; may complete *truth. False keeps the
  // drift.
  virtual bool ListAt(size_t i, const std::vector<Micros>& quarters, Micros end, int64_t list,
                      int64_t* next, TruthEntry* truth) const {
    return false;
  }
};

// A kind of anomaly. Stateless: one object per kind for the whole program.
class AnomalyKind {
 public:
  // `rule_kind` is one of services/rules/kinds.h; the anomaly's name defaults to it.
  explicit AnomalyKind(std::string_view rule_kind) : AnomalyKind(rule_kind, rule_kind) {}
  AnomalyKind(std::string_view name, std::string_view rule_kind)
      : name_(name), rule_kind_(rule_kind) {}
  virtual ~AnomalyKind() = default;

  // How DescribePractice names the anomaly.
  std::string_view name() const { return name_; }
  // The rule kind that must detect it: TruthEntry::rule_kind.
  std::string_view rule_kind() const { return rule_kind_; }

  // Whether clean practice p can carry variant `variant` of this anomaly over the range (by
  // default, every practice can). Kinds are dealt with alternating variants 0, 1, 0...; a kind
  // without variants ignores it.
  virtual bool Eligible(const GeneratorParams& params, const Practice& p, int variant) const {
    return true;
  }
  // Plans the anomaly for p (p.anomaly and p.variant are set): returns what it changes, may
  // change p's factors, and records the truth. *truth arrives with practice_code, rule_kind and
  // the whole range as window; Plan sets detail and, when narrower, the window (or a later
  // Injection hook completes them). REQUIRES: Eligible(params, p, p.variant).
  virtual std::unique_ptr<Injection> Plan(const GeneratorParams& params, Rng& rng, Practice& p,
                                          TruthEntry* truth) const = 0;

 private:
  std::string_view name_;
  std::string_view rule_kind_;
};

// Every registered kind, in the catalogue order of its rule kind (services/rules/kinds.h): the
// order in which kinds are dealt out.
const std::vector<const AnomalyKind*>& AnomalyKinds();

}  // namespace probity::generate::internal
