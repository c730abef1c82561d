// The size budget (docs/events.md, "Size budget"): one set of limits that fit together, so that no
// input Probity accepts can produce a record the bus refuses. Every producer and consumer Probity
// makes is configured from here, and targets check the topics they write to against it at start.
#pragma once

#include <cstddef>
#include <cstdint>

namespace probity::bus {

// The largest message value an input topic's message may have to be accepted. codec::Policy's
// max_message_bytes defaults to this and MUST NOT exceed it.
inline constexpr size_t kMaxInputValueBytes = 1 << 20;  // 1,048,576
// The largest key plus headers (each header's name and value) an input message may have.
inline constexpr size_t kMaxInputKeyAndHeadersBytes = 16 << 10;  // 16,384
// The largest record (message value + key + headers) any Probity target produces: an accepted
// input with Probity's own fields around it (a SequencedEntry), or a whole dead letter of a
// message within the input limits. Bigger than the input budget by 64 KiB.
inline constexpr size_t kMaxRecordBytes = kMaxInputValueBytes + (64 << 10);  // 1,114,112
// message.max.bytes of Probity's producers: the record plus Kafka's batch framing.
inline constexpr size_t kProducerMaxMessageBytes = kMaxInputValueBytes + (128 << 10);  // 1,179,648
// The least max.message.bytes a topic Probity writes to must allow.
inline constexpr int64_t kRequiredTopicMaxMessageBytes = kProducerMaxMessageBytes;
// max.partition.fetch.bytes of Probity's consumers (a larger message is still fetched, alone).
inline constexpr size_t kConsumerMaxPartitionFetchBytes = kProducerMaxMessageBytes;

static_assert(kMaxInputValueBytes + kMaxInputKeyAndHeadersBytes + (16 << 10) <= kMaxRecordBytes,
              "a whole dead letter of an accepted-size input must fit the record limit");
static_assert(kMaxRecordBytes < kProducerMaxMessageBytes);

}  // namespace probity::bus
