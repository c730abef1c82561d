#include "services/api/idempotency.h"

#include <rocksdb/db.h>

#include <filesystem>

#include "common/logstore/store.h"

namespace probity::api {
namespace {

// Principal names never hold a NUL, so the key is unambiguous.
std::string Key(std::string_view principal, std::string_view key) {
  std::string k(principal);
  k.push_back('\0');
  k.append(key);
  return k;
}

}  // namespace

StatusOr<std::unique_ptr<IdempotencyStore>> IdempotencyStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  PROBITY_RETURN_IF_ERROR(
      logstore::FromRocks(rocksdb::DB::Open(options, dir, &db), "open idempotency store " + dir));
  std::unique_ptr<IdempotencyStore> s(new IdempotencyStore());
  s->db_.reset(db);
  return s;
}

IdempotencyStore::~IdempotencyStore() = default;

StatusOr<std::optional<v1::IdempotencyRecord>> IdempotencyStore::Get(std::string_view principal,
                                                                     std::string_view key) const {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), Key(principal, key), &v);
  if (rs.IsNotFound()) return std::optional<v1::IdempotencyRecord>();
  PROBITY_RETURN_IF_ERROR(logstore::FromRocks(rs, "read idempotency record"));
  v1::IdempotencyRecord r;
  if (!r.ParseFromString(v)) return DataLoss("idempotency record does not parse");
  return std::optional<v1::IdempotencyRecord>(std::move(r));
}

Status IdempotencyStore::Put(std::string_view principal, std::string_view key,
                             const v1::IdempotencyRecord& r) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return logstore::FromRocks(db_->Put(wo, Key(principal, key), r.SerializeAsString()),
                             "write idempotency record");
}

}  // namespace probity::api
