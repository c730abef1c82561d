#include "services/rules/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "services/rules/state_codec.h"

namespace probity::rules {
namespace {
constexpr uint64_t kMetaFormat = 1;
constexpr char kMetaKey[] = "meta";
constexpr char kGlobalKey[] = "global";
constexpr char kPracticePrefix[] = "p/";
constexpr char kPracticeEnd[] = "p0";  // '0' follows '/'
}  // namespace

StateStore::StateStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
StateStore::~StateStore() = default;

StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return IoError("rules state store " + path + ": " + s.ToString());
  return std::unique_ptr<StateStore>(new StateStore(std::unique_ptr<rocksdb::DB>(raw)));
}

Status StateStore::Save(const Engine& engine) {
  if (!engine.has_processed())
    return FailedPrecondition("rules state store: nothing processed yet");
  return SaveSnapshot(engine.Snapshot());
}

Status StateStore::SaveSnapshot(const EngineSnapshot& snap) {
  if (!snap.has_last_index) return FailedPrecondition("rules state store: nothing processed yet");
  internal::Encoder meta;
  meta.U64(kMetaFormat);
  meta.Str(snap.rule_set_hash);
  meta.U64(snap.last_index);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(kPracticePrefix, kPracticeEnd);
  batch.Put(kMetaKey, meta.out());
  batch.Put(kGlobalKey, snap.global);
  for (const auto& [code, blob] : snap.practices)
    batch.Put(std::string(kPracticePrefix) + code, blob);
  rocksdb::WriteOptions wo;  // the WAL makes the batch atomic; no fsync (see the header)
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return IoError("rules state store: save failed: " + s.ToString());
  return Status::Ok();
}

Status StateStore::Load(Engine* engine) const {
  std::string meta;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kMetaKey, &meta);
  if (s.IsNotFound()) return NotFound("rules state store: no saved state");
  if (!s.ok()) return IoError("rules state store: " + s.ToString());
  EngineSnapshot snap;
  internal::Decoder d(meta);
  uint64_t format = 0;
  if (!d.U64(&format) || format != kMetaFormat || !d.Str(&snap.rule_set_hash) ||
      !d.U64(&snap.last_index) || !d.done()) {
    return DataLoss("rules state store: meta record corrupt");
  }
  snap.has_last_index = true;
  // One consistent view of the batch that wrote it.
  const rocksdb::Snapshot* view = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = view;
  s = db_->Get(ro, kGlobalKey, &snap.global);
  if (s.ok()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(kPracticePrefix); it->Valid() && it->key().starts_with(kPracticePrefix);
         it->Next()) {
      snap.practices.emplace_back(it->key().ToString().substr(2), it->value().ToString());
    }
    s = it->status();
  }
  db_->ReleaseSnapshot(view);
  if (!s.ok()) return DataLoss("rules state store: " + s.ToString());
  return engine->Restore(snap);
}

}  // namespace probity::rules
