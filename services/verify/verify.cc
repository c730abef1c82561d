#include "services/verify/verify.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <vector>

#include "common/merkle/proof.h"

namespace probity::verify {
namespace {

namespace pb = ::google::protobuf;

bool IsHashField(const std::string& name) {
  return name == "leaf_hash" || name == "leafHash" || name == "hashes" || name == "root_hash" ||
         name == "rootHash";
}

// Rewrites every hex hash (64 hex digits) under a hash field to base64, so that the protobuf
// JSON parser, which reads `bytes` as base64 only, accepts both encodings.
void HexToBase64(pb::Value* v, bool in_hash_field) {
  switch (v->kind_case()) {
    case pb::Value::kStringValue:
      if (in_hash_field) {
        if (auto h = merkle::HashFromHex(v->string_value()); h.ok()) {
          v->set_string_value(merkle::ToBase64(*h));
        }
      }
      return;
    case pb::Value::kListValue:
      for (pb::Value& e : *v->mutable_list_value()->mutable_values())
        HexToBase64(&e, in_hash_field);
      return;
    case pb::Value::kStructValue:
      for (auto& [name, field] : *v->mutable_struct_value()->mutable_fields()) {
        HexToBase64(&field, IsHashField(name));
      }
      return;
    default:
      return;
  }
}

Status ParseJson(std::string_view json, pb::Message* out) {
  pb::Value v;
  if (!pb::util::JsonStringToMessage(std::string(json), &v).ok() ||
      v.kind_case() != pb::Value::kStructValue) {
    return InvalidArgument("not a JSON object");
  }
  HexToBase64(&v, false);
  std::string normalized;
  if (!pb::util::MessageToJsonString(v, &normalized).ok()) return InvalidArgument("bad JSON");
  auto st = pb::util::JsonStringToMessage(normalized, out);
  if (!st.ok()) {
    return InvalidArgument("not a " + out->GetDescriptor()->name() + ": " +
                           std::string(st.message()));
  }
  return Status::Ok();
}

StatusOr<std::vector<merkle::Hash>> Hashes(const pb::RepeatedPtrField<std::string>& in,
                                           const char* what) {
  std::vector<merkle::Hash> out;
  out.reserve(in.size());
  for (int i = 0; i < in.size(); ++i) {
    auto h = merkle::HashFromBytes(in[i]);
    if (!h.ok()) {
      return InvalidArgument(std::string(what) + " hash " + std::to_string(i) + " is " +
                             std::to_string(in[i].size()) + " bytes, want 32");
    }
    out.push_back(*h);
  }
  return out;
}

}  // namespace

StatusOr<merkle::Hash> ParseHash(std::string_view text) {
  if (text.size() == 2 * merkle::kHashSize) return merkle::HashFromHex(text);
  auto h = merkle::HashFromBase64(text);
  if (!h.ok()) {
    return InvalidArgument("'" + std::string(text.substr(0, 80)) +
                           "' is not a 32-byte hash in base64 (44 characters) or hex (64 digits)");
  }
  return h;
}

StatusOr<v1::InclusionProof> ParseInclusionProof(std::string_view json) {
  v1::InclusionProof p;
  Status st = ParseJson(json, &p);
  if (st.ok()) return p;
  v1::EntryProof e;
  if (ParseJson(json, &e).ok() && e.has_proof()) return e.proof();
  return Status(st.code(), "inclusion proof: " + st.message());
}

StatusOr<v1::ConsistencyProof> ParseConsistencyProof(std::string_view json) {
  v1::ConsistencyProof p;
  Status st = ParseJson(json, &p);
  if (!st.ok()) return Status(st.code(), "consistency proof: " + st.message());
  return p;
}

StatusOr<note::TrustedCheckpoint> VerifyCheckpoint(const note::TrustPolicy& policy,
                                                   std::string_view signed_note) {
  return policy.Open(signed_note);
}

Status VerifyInclusion(const note::TrustedCheckpoint& checkpoint, const v1::InclusionProof& proof,
                       const std::optional<std::string>& leaf) {
  const uint64_t size = checkpoint.checkpoint.size;
  if (proof.tree_size() != size) {
    return InvalidArgument("the proof is for a tree of " + std::to_string(proof.tree_size()) +
                           " entries, the checkpoint for " + std::to_string(size));
  }
  auto leaf_hash = merkle::HashFromBytes(proof.leaf_hash());
  if (!leaf_hash.ok()) return InvalidArgument("the proof's leaf hash is not 32 bytes");
  if (leaf && merkle::HashLeaf(*leaf) != *leaf_hash) {
    return DataLoss("the entry's bytes do not hash to the proof's leaf hash");
  }
  PROBITY_ASSIGN_OR_RETURN(auto path, Hashes(proof.hashes(), "inclusion proof"));
  Status st = merkle::VerifyInclusion(proof.leaf_index(), size, *leaf_hash, path,
                                      checkpoint.checkpoint.root);
  if (!st.ok()) {
    return Status(st.code(), "inclusion of index " + std::to_string(proof.leaf_index()) +
                                 " in the tree of " + std::to_string(size) + ": " + st.message());
  }
  return Status::Ok();
}

Status VerifyConsistency(const note::TrustedCheckpoint& older, const note::TrustedCheckpoint& newer,
                         const v1::ConsistencyProof& proof) {
  const uint64_t m = older.checkpoint.size, n = newer.checkpoint.size;
  if (proof.old_size() != m || proof.new_size() != n) {
    return InvalidArgument("the proof is from " + std::to_string(proof.old_size()) + " to " +
                           std::to_string(proof.new_size()) + " entries, the checkpoints are " +
                           std::to_string(m) + " and " + std::to_string(n));
  }
  if (m == 0) {
    return InvalidArgument(
        "no consistency proof from size 0: RFC 9162 defines none (the empty tree is consistent "
        "with every tree)");
  }
  PROBITY_ASSIGN_OR_RETURN(auto path, Hashes(proof.hashes(), "consistency proof"));
  Status st = merkle::VerifyConsistency(m, n, path, older.checkpoint.root, newer.checkpoint.root);
  if (!st.ok()) {
    return Status(st.code(), "consistency of " + std::to_string(m) + " with " + std::to_string(n) +
                                 ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace probity::verify
