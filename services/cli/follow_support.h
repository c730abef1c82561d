// Wiring shared by the follower targets run from the command line (rules, alerts, replica): the
// inputs of a follower that reads the bus.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/bus/kafka.h"
#include "common/follow/checkpoint_source.h"
#include "common/follow/entry_source.h"
#include "common/note/note.h"
#include "common/status/status.h"

namespace probity::cli {

// Reads the log's verifier key file ("<name>+<hash>+<key>", as `probity keygen` writes
// probity.pub; after a rotation, the log's keys one per line, newest first): the key texts, every
// one checked to parse and to name the same log. Errors name the file.
StatusOr<std::vector<std::string>> ReadLogKeyTexts(const std::string& path);

// probity.log.v1 (catching up from a verified copy of the log when retention took an entry) and
// probity.checkpoints.v1, with the log's key to verify the checkpoints by.
struct BusFollowInputs {
  std::unique_ptr<follow::LogTopicSource> topic;
  std::unique_ptr<follow::CatchUpSource> entries;
  std::unique_ptr<follow::CheckpointTopicSource> checkpoints;  // null without a log key
  std::string origin;                                          // the log key's name
  std::vector<note::Verifier> log_keys;
};
// `log_key_file` empty: no checkpoint is verified (a warning on stderr says so); leaf hashes and
// the follower's own tree still are.
StatusOr<BusFollowInputs> OpenBusFollowInputs(const bus::ClientConfig& bus,
                                              const std::string& catch_up_from,
                                              const std::string& log_key_file,
                                              const std::string& target);

}  // namespace probity::cli
