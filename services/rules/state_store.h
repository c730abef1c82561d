// Durable engine state in the engine's own RocksDB directory.
//
// Keys: "meta" (format, rule-set hash, last processed index), "global", and "p/<practice code>"
// per practice. Save writes all of them in one WriteBatch (removing practices no longer present),
// synced, so a crash leaves either the old state or the new one, never a mix.
#pragma once

#include <memory>
#include <string>

#include "common/status/status.h"
#include "services/rules/engine.h"

namespace rocksdb {
class DB;
}

namespace probity::rules {

class StateStore {
 public:
  // Opens (creating if missing) the RocksDB directory at `path`. IoError on failure.
  static StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();

  // Atomically replaces the stored state with engine.Snapshot() (which carries the last
  // processed index). REQUIRES: engine.has_processed().
  Status Save(const Engine& engine);
  // The same, from a snapshot taken earlier (so that the write can happen off the engine's
  // thread). Not fsynced: the state is a cache of a deterministic function of the log, and an
  // older state only means a longer replay.
  Status SaveSnapshot(const EngineSnapshot& snap);
  // Restores the stored state into a fresh engine. NotFound when nothing was saved;
  // FailedPrecondition when it was saved under another rule set; DataLoss when corrupt.
  // On failure `engine` is unchanged. After success, resume at engine->last_index() + 1.
  Status Load(Engine* engine) const;

 private:
  explicit StateStore(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace probity::rules
