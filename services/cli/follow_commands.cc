// The follower targets' shared wiring (follow_support.h).
#include <fstream>
#include <iostream>
#include <sstream>

#include "services/cli/follow_support.h"

namespace probity::cli {

StatusOr<note::Verifier> LoadVerifierKey(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the log's verifier key " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  StatusOr<note::Verifier> v = note::Verifier::FromVerifierKey(key);
  if (!v.ok()) return Status(v.status().code(), path + ": " + v.status().message());
  return v;
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
  PROBITY_ASSIGN_OR_RETURN(note::Verifier key, LoadVerifierKey(log_key_file));
  in.origin = key.name();
  in.log_keys.push_back(std::move(key));
  PROBITY_ASSIGN_OR_RETURN(in.checkpoints, follow::CheckpointTopicSource::Create(bus));
  return in;
}

}  // namespace probity::cli
