// Which event kinds each input topic carries, and which payload each kind has (docs/events.md,
// "Topics"). The public short names (ShortKindName, ParseKind) are declared in codec.h.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "probity/v1/events.pb.h"

namespace probity::codec::internal {

struct TopicKinds {
  std::string_view topic;
  std::array<v1::EventKind, 2> kinds;  // second is UNSPECIFIED when the topic carries one kind
};

// The kinds `topic` carries; nullptr if it is not an input topic of ingest. The pointer is to
// static storage.
const TopicKinds* FindTopic(std::string_view topic);

// The payload an envelope of `kind` must carry; PAYLOAD_NOT_SET for UNSPECIFIED and unknown kinds.
v1::Envelope::PayloadCase PayloadFor(v1::EventKind kind);

// The name of the payload field set ("claim"), "none" if none is.
std::string PayloadName(const v1::Envelope& env);

// The enum name of `k` ("EVENT_KIND_CLAIM"), or its number for a value outside the enum.
std::string KindName(v1::EventKind k);

}  // namespace probity::codec::internal
