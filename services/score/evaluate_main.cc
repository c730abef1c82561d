// probity_evaluate: generate a scenario, replay it through the rules offline and print the
// detection scores (docs/generator.md, "Detection scores"). Only wires flags to Evaluate().
//
//   probity_evaluate [--practice_fraction F] [--volume_fraction F] [--anomaly_share F] [--seed N]
//                    [--rules deploy/rules/default.yaml] [--diagnose] [--json] [--truth_only]
//
// --truth_only prints the planned ground truth (JSON lines) and exits without generating.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "services/generate/reference.h"
#include "services/score/evaluate.h"

int main(int argc, char** argv) {
  using namespace probity;
  generate::GeneratorParams params;
  std::string rules_path = std::string(PROBITY_SOURCE_DIR) + "/deploy/rules/default.yaml";
  bool diagnose = false, json = false, truth_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "probity_evaluate: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--practice_fraction")
      params.practice_fraction = std::stod(next());
    else if (a == "--volume_fraction")
      params.volume_fraction = std::stod(next());
    else if (a == "--anomaly_share")
      params.anomaly_share = std::stod(next());
    else if (a == "--seed")
      params.seed = std::stoull(next());
    else if (a == "--rules")
      rules_path = next();
    else if (a == "--diagnose")
      diagnose = true;
    else if (a == "--json")
      json = true;
    else if (a == "--truth_only")
      truth_only = true;
    else {
      std::cerr << "probity_evaluate: unknown argument " << a << "\n";
      return 2;
    }
  }
  auto rule_set = rules::LoadRuleSetFile(rules_path);
  if (!rule_set.ok()) {
    std::cerr << "probity_evaluate: " << rule_set.status().ToString() << "\n";
    return 1;
  }
  auto reference = generate::LoadReference(generate::DefaultReferenceCsvPath());
  if (!reference.ok()) {
    std::cerr << "probity_evaluate: " << reference.status().ToString() << "\n";
    return 1;
  }
  if (truth_only) {
    auto gen = generate::Generator::Create(*reference, params);
    if (!gen.ok()) {
      std::cerr << "probity_evaluate: " << gen.status().ToString() << "\n";
      return 1;
    }
    for (const auto& t : (*gen)->truth()) {
      std::cout << generate::TruthToJsonLine(t) << "  # "
                << (*gen)->DescribePractice(t.practice_code) << "\n";
    }
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  score::EvaluateOptions options;
  options.keep_flags = true;
  auto progress = [&](const generate::Progress& p) {
    if (p.days_done % 30 == 0)
      std::cerr << "  day " << p.days_done << "/" << p.days_total << ", " << p.events_emitted
                << " events\n";
  };
  auto ev = score::Evaluate(*reference, params, *rule_set, progress, options);
  if (!ev.ok()) {
    std::cerr << "probity_evaluate: " << ev.status().ToString() << "\n";
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (diagnose) std::cout << score::FormatDiagnostics(*ev);
  std::cout << (json ? score::FormatJson(ev->report) : score::FormatText(ev->report)) << "\n";
  std::fprintf(stderr, "%lld input events, %lld log entries, %.1f s\n",
               static_cast<long long>(ev->input_events), static_cast<long long>(ev->log_entries),
               secs);
  return 0;
}
