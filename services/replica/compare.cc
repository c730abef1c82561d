#include "services/replica/compare.h"

#include <rocksdb/db.h>

#include <map>
#include <memory>

#include "common/logstore/keys.h"

namespace probity::replica {
namespace {

namespace keys = logstore::keys;

// One store as of one snapshot (its column families agree with each other).
class Snapshot {
 public:
  explicit Snapshot(const logstore::LogStore& s) : store_(s), snap_(s.db()->GetSnapshot()) {
    ro_.snapshot = snap_;
    ro_.total_order_seek = true;  // idx_event has a hash memtable: iterate it whole
  }
  ~Snapshot() { store_.db()->ReleaseSnapshot(snap_); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  std::unique_ptr<rocksdb::Iterator> Iterate(rocksdb::ColumnFamilyHandle* cf) const {
    std::unique_ptr<rocksdb::Iterator> it(store_.db()->NewIterator(ro_, cf));
    it->SeekToFirst();
    return it;
  }
  StatusOr<std::string> Meta(std::string_view key) const {
    std::string v;
    rocksdb::Status s =
        store_.db()->Get(ro_, store_.meta(), rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return logstore::FromRocks(s, "read meta");
    return v;
  }
  const logstore::LogStore& store() const { return store_; }

 private:
  const logstore::LogStore& store_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
};

std::string Printable(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return key.size() > 40 ? out + "..." : out;
}

// Walks a column family of both stores side by side; records the first difference. Returns the
// primary's key count.
StatusOr<uint64_t> CompareFamily(const Snapshot& a, rocksdb::ColumnFamilyHandle* cfa,
                                 const Snapshot& b, rocksdb::ColumnFamilyHandle* cfb,
                                 std::string_view name, std::vector<std::string>* differences) {
  auto ia = a.Iterate(cfa), ib = b.Iterate(cfb);
  uint64_t n = 0;
  bool differ = false;
  for (; ia->Valid(); ia->Next(), ++n) {
    if (differ) continue;
    if (!ib->Valid()) {
      differences->push_back(std::string(name) + ": the copy ends before key " +
                             Printable(ia->key().ToString()));
      differ = true;
    } else if (ia->key() != ib->key()) {
      differences->push_back(std::string(name) + ": key " + Printable(ia->key().ToString()) +
                             " in the primary where the copy has " +
                             Printable(ib->key().ToString()));
      differ = true;
    } else if (ia->value() != ib->value()) {
      differences->push_back(std::string(name) + ": the value of key " +
                             Printable(ia->key().ToString()) + " differs");
      differ = true;
    } else {
      ib->Next();
    }
  }
  if (!differ && ib->Valid()) {
    differences->push_back(std::string(name) + ": the copy has more keys, from " +
                           Printable(ib->key().ToString()));
  }
  PROBITY_RETURN_IF_ERROR(logstore::FromRocks(ia->status(), name));
  PROBITY_RETURN_IF_ERROR(logstore::FromRocks(ib->status(), name));
  return n;
}

// idx_kind as kind -> every index of that kind, ascending (independent of batch grouping).
StatusOr<std::map<uint32_t, std::vector<uint64_t>>> KindIndex(const Snapshot& s) {
  std::map<uint32_t, std::vector<uint64_t>> out;
  auto it = s.Iterate(s.store().kind_index());
  for (; it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (k.size() != 12 || v.size() % 8 != 0) {
      return DataLoss("idx_kind key " + Printable(k.ToString()) + " is malformed");
    }
    std::vector<uint64_t>& list = out[keys::GetBe32(std::string_view(k.data(), 4))];
    for (size_t i = 0; i < v.size(); i += 8) {
      list.push_back(keys::GetBe64(std::string_view(v.data() + i, 8)));
    }
  }
  PROBITY_RETURN_IF_ERROR(logstore::FromRocks(it->status(), "idx_kind"));
  return out;
}

// Checkpoints when the copy may hold a subset: each of its own equal to the primary's at that
// size, and the same latest.
Status CompareCheckpointSubset(const Snapshot& a, const Snapshot& b, Comparison* c) {
  std::map<std::string, std::string> primary;
  for (auto it = a.Iterate(a.store().checkpoints()); it->Valid(); it->Next()) {
    primary.emplace(it->key().ToString(), it->value().ToString());
  }
  c->primary_checkpoints = primary.size();
  std::string latest;
  bool differ = false;
  for (auto it = b.Iterate(b.store().checkpoints()); it->Valid(); it->Next()) {
    latest = it->key().ToString();
    auto p = primary.find(latest);
    if (p == primary.end() || p->second != it->value().ToString()) {
      if (!differ) {
        c->differences.push_back(
            "checkpoints: the copy's checkpoint at size " + std::to_string(keys::GetBe64(latest)) +
            (p == primary.end() ? " is not in the primary" : " differs from the primary's"));
      }
      differ = true;
    } else {
      ++c->checkpoints;
    }
  }
  const std::string primary_latest = primary.empty() ? "" : primary.rbegin()->first;
  if (latest != primary_latest) {
    auto size = [](const std::string& k) {
      return k.empty() ? std::string("none") : std::to_string(keys::GetBe64(k));
    };
    c->differences.push_back("checkpoints: the latest is at size " + size(latest) +
                             " in the copy, " + size(primary_latest) + " in the primary");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Comparison> CompareStores(const logstore::LogStore& primary,
                                   const logstore::LogStore& copy, const CompareOptions& options) {
  Snapshot a(primary), b(copy);
  Comparison c;
  auto& diff = c.differences;
  for (std::string_view key : {keys::kMetaFormat, keys::kMetaTreeSize, keys::kMetaTreeRange}) {
    PROBITY_ASSIGN_OR_RETURN(std::string va, a.Meta(key));
    PROBITY_ASSIGN_OR_RETURN(std::string vb, b.Meta(key));
    if (va != vb) diff.push_back("meta: " + std::string(key) + " differs");
    if (key == keys::kMetaTreeSize && va.size() == 8) c.tree_size = keys::GetBe64(va);
  }
  PROBITY_ASSIGN_OR_RETURN(
      c.entries, CompareFamily(a, primary.entries(), b, copy.entries(), "entries", &diff));
  PROBITY_ASSIGN_OR_RETURN(c.tiles,
                           CompareFamily(a, primary.tiles(), b, copy.tiles(), "tiles", &diff));
  PROBITY_ASSIGN_OR_RETURN(c.event_keys, CompareFamily(a, primary.event_index(), b,
                                                       copy.event_index(), "idx_event", &diff));
  PROBITY_ASSIGN_OR_RETURN(
      c.practice_keys,
      CompareFamily(a, primary.practice_index(), b, copy.practice_index(), "idx_practice", &diff));
  PROBITY_ASSIGN_OR_RETURN(auto kinds_a, KindIndex(a));
  PROBITY_ASSIGN_OR_RETURN(auto kinds_b, KindIndex(b));
  for (const auto& [kind, list] : kinds_a) c.kind_indices += list.size();
  if (kinds_a != kinds_b) diff.push_back("idx_kind: the indices of some kind differ");
  if (options.every_checkpoint) {
    const size_t before = diff.size();
    PROBITY_ASSIGN_OR_RETURN(
        c.primary_checkpoints,
        CompareFamily(a, primary.checkpoints(), b, copy.checkpoints(), "checkpoints", &diff));
    if (diff.size() == before) c.checkpoints = c.primary_checkpoints;
  } else {
    PROBITY_RETURN_IF_ERROR(CompareCheckpointSubset(a, b, &c));
  }
  return c;
}

}  // namespace probity::replica
