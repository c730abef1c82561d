// Fuzz target for signed notes and checkpoints. Properties checked on every input:
//  1. Forgery: Open against the fixed PeterNeumann verifier (Go's example key) succeeds only if
//     the text is one this target knows to be genuinely signed by that key, the single verified
//     signature is the genuine one, and the genuine signature line is in the input.
//  2. Open against no verifiers never succeeds.
//  3. ParseCheckpoint is canonical: whatever it accepts, FormatCheckpoint reproduces exactly.
// Any violation calls abort().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "common/note/checkpoint.h"
#include "common/note/note.h"
#include "tests/common/note/golden.h"

namespace {

using probity::note::Checkpoint;
using probity::note::Signer;
using probity::note::Verifier;

struct Fixture {
  Verifier verifier;
  std::map<std::string, std::string> genuine;  // signed text -> the signature line for it
};

// Texts signed by the fixed key; the seed corpus holds notes over these texts.
const Fixture& GetFixture() {
  static const Fixture* f = [] {
    auto v = Verifier::FromVerifierKey(probity::note::golden::kPeterVerifierKey);
    auto s = Signer::FromSignerKey(probity::note::golden::kPeterSignerKey);
    if (!v.ok() || !s.ok()) std::abort();
    auto* fx = new Fixture{*v, {}};
    fx->genuine[probity::note::golden::kNeumannText] = probity::note::golden::kPeterSigLine;
    for (const char* text :
         {"PeterNeumann\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
          "PeterNeumann\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n"}) {
      auto msg = s->Sign(text);
      if (!msg.ok()) std::abort();
      fx->genuine[text] = msg->substr(std::string_view(text).size() + 1);
    }
    return fx;
  }();
  return *f;
}

void CheckCheckpointCanonical(std::string_view text) {
  auto c = probity::note::ParseCheckpoint(text);
  if (c.ok() && probity::note::FormatCheckpoint(*c) != text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Fixture& fx = GetFixture();

  auto n = probity::note::Open(in, {fx.verifier});
  if (n.ok()) {
    auto it = fx.genuine.find(n->text);
    if (it == fx.genuine.end()) std::abort();  // a text the key never signed verified
    if (n->verified.size() != 1) std::abort();
    const std::string& line = it->second;  // "— PeterNeumann <b64>\n"
    const std::string_view b64 =
        std::string_view(line).substr(line.find(' ', 4) + 1, line.size() - line.find(' ', 4) - 2);
    if (n->verified[0].base64 != b64 || n->verified[0].name != "PeterNeumann") std::abort();
    if (in.substr(0, n->text.size()) != n->text) std::abort();
    if (in.find(line, n->text.size()) == std::string_view::npos) std::abort();
    CheckCheckpointCanonical(n->text);
  }
  if (probity::note::Open(in, {}).ok()) std::abort();
  CheckCheckpointCanonical(in);
  return 0;
}
