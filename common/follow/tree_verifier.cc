#include "common/follow/tree_verifier.h"

#include "common/logstore/keys.h"

namespace probity::follow {
namespace {

constexpr std::string_view kTreeMagic = "probity-follow-tree-1\n";

std::string Size(uint64_t n) { return std::to_string(n); }

// The report file of an evidence directory: plain text for a person, one fact a line.
std::string Report(std::string_view reason, uint64_t size, const merkle::Hash& ours) {
  return std::string(reason) + "\nthis follower's root at size " + Size(size) + ": " +
         merkle::ToBase64(ours) + "\n";
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool U64(uint64_t* v) {
    if (s_.size() < 8) return false;
    *v = logstore::keys::GetBe64(s_);
    s_.remove_prefix(8);
    return true;
  }
  bool Hashes(uint64_t n, std::vector<merkle::Hash>* out) {
    if (n > s_.size() / merkle::kHashSize) return false;
    out->resize(n);
    for (auto& h : *out) {
      std::copy(s_.begin(), s_.begin() + merkle::kHashSize, h.begin());
      s_.remove_prefix(merkle::kHashSize);
    }
    return true;
  }
  bool Bytes(uint64_t n, std::string_view* out) {
    if (n > s_.size()) return false;
    *out = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  bool empty() const { return s_.empty(); }

 private:
  std::string_view s_;
};

}  // namespace

std::string EncodeTreeState(const TreeState& state) {
  std::string out(kTreeMagic);
  logstore::keys::PutBe64(&out, state.verified.size());
  logstore::keys::PutBe64(&out, state.verified.hashes().size());
  for (const auto& h : state.verified.hashes()) out.append(merkle::AsBytes(h));
  logstore::keys::PutBe64(&out, state.tail.size());
  for (const auto& h : state.tail) out.append(merkle::AsBytes(h));
  std::string cp = state.checkpoint ? state.checkpoint->SerializeAsString() : std::string();
  logstore::keys::PutBe64(&out, cp.size());
  out += cp;
  out.append(merkle::AsBytes(merkle::Sha256(out)));
  return out;
}

StatusOr<TreeState> DecodeTreeState(std::string_view bytes) {
  const auto bad = [](std::string why) { return DataLoss("follower tree state: " + why); };
  if (bytes.size() < kTreeMagic.size() + merkle::kHashSize ||
      bytes.substr(0, kTreeMagic.size()) != kTreeMagic) {
    return bad("not a probity-follow-tree-1 file");
  }
  std::string_view body = bytes.substr(0, bytes.size() - merkle::kHashSize);
  if (merkle::AsBytes(merkle::Sha256(body)) != bytes.substr(body.size())) {
    return bad("checksum mismatch");
  }
  Cursor c(body.substr(kTreeMagic.size()));
  uint64_t size = 0, n = 0, tail_n = 0, cp_n = 0;
  std::vector<merkle::Hash> hashes;
  TreeState st;
  std::string_view cp;
  if (!c.U64(&size) || !c.U64(&n) || !c.Hashes(n, &hashes) || !c.U64(&tail_n) ||
      !c.Hashes(tail_n, &st.tail) || !c.U64(&cp_n) || !c.Bytes(cp_n, &cp) || !c.empty()) {
    return bad("truncated or overlong");
  }
  auto range = merkle::CompactRange::Create(size, std::move(hashes));
  if (!range.ok()) return bad(range.status().message());
  st.verified = std::move(range).value();
  if (cp_n > 0) {
    v1::CheckpointRecord r;
    if (!r.ParseFromArray(cp.data(), static_cast<int>(cp.size())) || r.tree_size() != size) {
      return bad("checkpoint does not parse or is not at the verified size");
    }
    st.checkpoint = std::move(r);
  }
  return st;
}

TreeVerifier::TreeVerifier(std::string origin, std::vector<note::Verifier> keys, TreeState state)
    : origin_(std::move(origin)), keys_(std::move(keys)), state_(std::move(state)) {
  current_ = state_.verified;
  for (const auto& h : state_.tail) current_.Append(h);
}

Status TreeVerifier::AddLeaf(uint64_t index, const merkle::Hash& leaf, Evidence* evidence) {
  if (index != current_.size()) {
    return Internal("tree verifier: leaf " + Size(index) + " added at size " +
                    Size(current_.size()));
  }
  merkle::CompactRange next = current_;
  next.Append(leaf);
  if (!pending_.empty() && pending_.front().record.tree_size() == next.size()) {
    const merkle::Hash ours = next.Root();
    // Every pending checkpoint of this size (repeats of one note, or a fork).
    for (const Parsed& cp : pending_) {
      if (cp.record.tree_size() != next.size()) break;
      PROBITY_RETURN_IF_ERROR(Check(cp, ours, evidence));
    }
    Parsed cp = pending_.front();
    while (!pending_.empty() && pending_.front().record.tree_size() == next.size()) {
      pending_.pop_front();
    }
    current_ = next;
    state_.tail.push_back(leaf);
    Accept(cp, current_);
    return Status::Ok();
  }
  current_ = std::move(next);
  state_.tail.push_back(leaf);
  return Status::Ok();
}

Status TreeVerifier::Check(const Parsed& cp, const merkle::Hash& ours, Evidence* evidence) const {
  if (cp.root == ours) return Status::Ok();
  const uint64_t size = cp.record.tree_size();
  const std::string reason =
      "checkpoint at size " + Size(size) + " signed by the log's key has root " +
      merkle::ToBase64(cp.root) + ", but the entries this follower verified give root " +
      merkle::ToBase64(ours) + ": the log shows another history than the one it signed (fork)";
  evidence->name = "fork-at-" + Size(size);
  evidence->files = {{"report.txt", Report(reason, size, ours)},
                     {"checkpoint-" + Size(size) + ".note", cp.record.signed_note()}};
  if (state_.checkpoint) {
    evidence->files.push_back({"verified-" + Size(state_.checkpoint->tree_size()) + ".note",
                               state_.checkpoint->signed_note()});
  }
  return DataLoss(reason);
}

void TreeVerifier::Seen(const Parsed& cp, bool verified) {
  seen_[cp.record.tree_size()] = {cp.root, verified, cp.record.signed_note()};
  if (seen_.size() > kSeenMax) seen_.erase(seen_.begin());
}

void TreeVerifier::Accept(const Parsed& cp, merkle::CompactRange at) {
  Seen(cp, true);
  const uint64_t drop = at.size() - state_.verified.size();
  state_.tail.erase(state_.tail.begin(), state_.tail.begin() + static_cast<ptrdiff_t>(drop));
  state_.verified = std::move(at);
  state_.checkpoint = cp.record;
  accepted_.push_back(cp.record);
  ++checkpoints_verified_;
}

Status TreeVerifier::AddCheckpoint(const v1::CheckpointRecord& record, Evidence* evidence) {
  const uint64_t size = record.tree_size();
  const auto fail = [&](std::string name, std::string reason,
                        std::vector<std::pair<std::string, std::string>> files) {
    evidence->name = std::move(name);
    evidence->files = std::move(files);
    evidence->files.insert(evidence->files.begin(), {"report.txt", reason + "\n"});
    return DataLoss(reason);
  };
  StatusOr<note::Checkpoint> opened = note::OpenCheckpoint(record.signed_note(), keys_, origin_);
  if (!opened.ok()) {
    return fail("bad-signature-at-" + Size(size),
                "checkpoint record at size " + Size(size) +
                    " is not a checkpoint signed by the log's key for " + origin_ + ": " +
                    opened.status().message(),
                {{"checkpoint-" + Size(size) + ".note", record.signed_note()}});
  }
  Parsed cp;
  cp.record = record;
  cp.root = opened->root;
  if (opened->size != size || merkle::AsBytes(opened->root) != record.root_hash()) {
    return fail("bad-record-at-" + Size(size),
                "checkpoint record at size " + Size(size) + " disagrees with its signed note (" +
                    Size(opened->size) + ", " + merkle::ToBase64(opened->root) + ")",
                {{"checkpoint-" + Size(size) + ".note", record.signed_note()}});
  }
  // The same checkpoint published again, after newer ones (the sequencer adds the witnesses'
  // cosignatures to a stored checkpoint and publishes it once more): not a rollback when this
  // read of the stream verified that size with that root; another root for it is a fork.
  if (auto seen = seen_.find(size); seen != seen_.end()) {
    if (seen->second.root != cp.root) {
      return fail("fork-at-" + Size(size),
                  "two checkpoints signed by the log's key for size " + Size(size) +
                      " have different roots: the log forked",
                  {{"checkpoint-" + Size(size) + "-a.note", seen->second.note},
                   {"checkpoint-" + Size(size) + "-b.note", record.signed_note()}});
    }
    if (stream_max_ && size <= stream_max_->record.tree_size()) {
      ++checkpoints_republished_;
      // The follower gets this copy: now if that size was verified, else when it is.
      if (seen->second.verified) accepted_.push_back(record);
      for (Parsed& p : pending_) {
        if (p.record.tree_size() == size) p.record = record;
      }
      return Status::Ok();
    }
  }
  // Publication order within this read of the stream.
  if (stream_max_) {
    const Parsed& prev = *stream_max_;
    const uint64_t psize = prev.record.tree_size();
    if (size < psize) {
      return fail("rollback-to-" + Size(size),
                  "checkpoint at size " + Size(size) +
                      " was published after the checkpoint at size " + Size(psize) +
                      ": the log rolled back",
                  {{"checkpoint-" + Size(psize) + ".note", prev.record.signed_note()},
                   {"checkpoint-" + Size(size) + ".note", record.signed_note()}});
    }
  }
  // Two signed roots for one size.
  for (const Parsed* other :
       {stream_max_ ? &*stream_max_ : nullptr, pending_.empty() ? nullptr : &pending_.back()}) {
    if (other != nullptr && other->record.tree_size() == size && other->root != cp.root) {
      return fail("fork-at-" + Size(size),
                  "two checkpoints signed by the log's key for size " + Size(size) +
                      " have different roots: the log forked",
                  {{"checkpoint-" + Size(size) + "-a.note", other->record.signed_note()},
                   {"checkpoint-" + Size(size) + "-b.note", record.signed_note()}});
    }
  }
  if (state_.checkpoint && state_.checkpoint->tree_size() == size &&
      state_.checkpoint->root_hash() != record.root_hash()) {
    return fail("fork-at-" + Size(size),
                "two checkpoints signed by the log's key for size " + Size(size) +
                    " have different roots: the log forked",
                {{"checkpoint-" + Size(size) + "-verified.note", state_.checkpoint->signed_note()},
                 {"checkpoint-" + Size(size) + "-new.note", record.signed_note()}});
  }
  const uint64_t vsize = state_.verified.size();
  if (size > current_.size()) {
    if (pending_.empty() || pending_.back().record.tree_size() != size) pending_.push_back(cp);
    Seen(cp, false);
  } else if (size > vsize || (size == vsize && !state_.checkpoint)) {
    // Already passed: the tree at `size` from the verified tree and the tail.
    merkle::CompactRange at = state_.verified;
    for (uint64_t i = vsize; i < size; ++i) at.Append(state_.tail[i - vsize]);
    PROBITY_RETURN_IF_ERROR(Check(cp, at.Root(), evidence));
    Accept(cp, std::move(at));
  } else if (size < vsize) {
    ++checkpoints_old_;  // read again after a restart; it was checked then, or was older still
    Seen(cp, false);
  } else if (size == vsize) {
    Seen(cp, true);  // the verified one, read again
  }
  stream_max_ = std::move(cp);
  return Status::Ok();
}

}  // namespace probity::follow
