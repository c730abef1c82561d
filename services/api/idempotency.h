// What each Idempotency-Key was first used for, kept on disk so that a retried decision never
// becomes a second one, even across a restart of the api (docs/api.md, "Decisions").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status/status.h"
#include "probity/v1/api.pb.h"

namespace rocksdb {
class DB;
}

namespace probity::api {

class IdempotencyStore {
 public:
  // Opens (creating) the store in `dir`. Every Put is synced before it returns.
  static StatusOr<std::unique_ptr<IdempotencyStore>> Open(const std::string& dir);
  ~IdempotencyStore();

  // The record for (principal, key), if any.
  StatusOr<std::optional<v1::IdempotencyRecord>> Get(std::string_view principal,
                                                     std::string_view key) const;
  // Stores the record for (principal, key), durably, before the decision is produced.
  Status Put(std::string_view principal, std::string_view key, const v1::IdempotencyRecord& r);

 private:
  IdempotencyStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace probity::api
