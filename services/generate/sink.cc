#include "services/generate/sink.h"

#include <array>
#include <chrono>
#include <thread>

#include "services/generate/record_format.h"

namespace probity::generate {

namespace record_format {

uint32_t Crc32(const void* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace record_format

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t GetU32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

Status VectorSink::Emit(std::string_view topic, std::string_view key,
                        const v1::Envelope& envelope) {
  records_.push_back(Record{std::string(topic), std::string(key), envelope});
  return Status::Ok();
}

StatusOr<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return IoError("cannot create " + path);
  if (std::fwrite(record_format::kMagic.data(), 1, record_format::kMagic.size(), f) !=
      record_format::kMagic.size()) {
    std::fclose(f);
    return IoError("cannot write " + path);
  }
  return std::unique_ptr<FileSink>(new FileSink(f, path));
}

FileSink::~FileSink() { (void)Close(); }

Status FileSink::Emit(std::string_view topic, std::string_view key, const v1::Envelope& envelope) {
  if (!error_.ok()) return error_;
  if (file_ == nullptr) return FailedPrecondition("file sink closed: " + path_);
  if (topic.size() > record_format::kMaxTopicLength || key.size() > record_format::kMaxKeyLength) {
    return InvalidArgument("topic or key too long for the record format");
  }
  std::string body;
  if (!envelope.SerializeToString(&body)) return InvalidArgument("envelope does not serialize");
  if (body.size() > record_format::kMaxEnvelopeLength) return InvalidArgument("envelope too large");
  buffer_.clear();
  PutU32(&buffer_, static_cast<uint32_t>(topic.size()));
  buffer_.append(topic);
  PutU32(&buffer_, static_cast<uint32_t>(key.size()));
  buffer_.append(key);
  PutU32(&buffer_, static_cast<uint32_t>(body.size()));
  buffer_.append(body);
  PutU32(&buffer_, record_format::Crc32(buffer_.data(), buffer_.size()));
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    error_ = IoError("write failed: " + path_);
    return error_;
  }
  ++records_;
  return Status::Ok();
}

Status FileSink::Close() {
  if (file_ == nullptr) return error_;
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (error_.ok() && !(flushed && closed)) error_ = IoError("close failed: " + path_);
  return error_;
}

StatusOr<std::unique_ptr<FileReader>> FileReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("cannot open " + path);
  char magic[8];
  if (std::fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
      std::string_view(magic, sizeof(magic)) != record_format::kMagic) {
    std::fclose(f);
    return DataLoss(path + ": not a generator event file (bad magic)");
  }
  auto reader = std::unique_ptr<FileReader>(new FileReader(f, path));
  reader->offset_ = sizeof(magic);
  return reader;
}

FileReader::~FileReader() {
  if (file_ != nullptr) std::fclose(file_);
}

StatusOr<bool> FileReader::Next(Record* record) {
  const uint64_t start = offset_;
  auto corrupt = [&](const std::string& why) {
    return DataLoss(path_ + ": " + why + " in record at byte " + std::to_string(start));
  };
  std::string raw;
  // Reads a length-prefixed field into raw (appending) and returns its length, or -1 at EOF.
  auto read_exact = [&](size_t n) -> bool {
    size_t old = raw.size();
    raw.resize(old + n);
    size_t got = n == 0 ? 0 : std::fread(raw.data() + old, 1, n, file_);
    offset_ += got;
    return got == n;
  };
  // First byte tells a clean end of file from a truncated record.
  int c = std::fgetc(file_);
  if (c == EOF) {
    if (std::ferror(file_)) return IoError(path_ + ": read failed");
    return false;
  }
  raw.push_back(static_cast<char>(c));
  ++offset_;
  if (!read_exact(3)) return corrupt("truncated topic length");
  const uint32_t topic_len = GetU32(reinterpret_cast<const unsigned char*>(raw.data()));
  if (topic_len > record_format::kMaxTopicLength) return corrupt("topic length too large");
  if (!read_exact(topic_len)) return corrupt("truncated topic");
  if (!read_exact(4)) return corrupt("truncated key length");
  const uint32_t key_len =
      GetU32(reinterpret_cast<const unsigned char*>(raw.data() + raw.size() - 4));
  if (key_len > record_format::kMaxKeyLength) return corrupt("key length too large");
  if (!read_exact(key_len)) return corrupt("truncated key");
  if (!read_exact(4)) return corrupt("truncated envelope length");
  const uint32_t env_len =
      GetU32(reinterpret_cast<const unsigned char*>(raw.data() + raw.size() - 4));
  if (env_len > record_format::kMaxEnvelopeLength) return corrupt("envelope length too large");
  if (!read_exact(env_len)) return corrupt("truncated envelope");
  const size_t body_end = raw.size();
  if (!read_exact(4)) return corrupt("truncated crc");
  const uint32_t crc = GetU32(reinterpret_cast<const unsigned char*>(raw.data() + body_end));
  if (crc != record_format::Crc32(raw.data(), body_end)) return corrupt("crc mismatch");
  record->topic.assign(raw.data() + 4, topic_len);
  record->key.assign(raw.data() + 8 + topic_len, key_len);
  if (!record->envelope.ParseFromArray(raw.data() + 12 + topic_len + key_len,
                                       static_cast<int>(env_len))) {
    return corrupt("envelope does not parse");
  }
  return true;
}

Status ReplayFile(const std::string& path, Sink* sink) {
  PROBITY_ASSIGN_OR_RETURN(auto reader, FileReader::Open(path));
  Record record;
  while (true) {
    PROBITY_ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) return Status::Ok();
    PROBITY_RETURN_IF_ERROR(sink->Emit(record.topic, record.key, record.envelope));
  }
}

void RealSleeper::SleepFor(Micros duration) {
  if (duration > 0) std::this_thread::sleep_for(std::chrono::microseconds(duration));
}

Status RateLimitedSink::Emit(std::string_view topic, std::string_view key,
                             const v1::Envelope& envelope) {
  if (rate_ > 0) {
    const Micros now = clock_->NowMicros();
    if (sent_ == 0) start_ = now;
    const Micros due = start_ + static_cast<Micros>(static_cast<double>(sent_) * 1e6 / rate_);
    if (now < due) sleeper_->SleepFor(due - now);
  }
  ++sent_;
  return inner_->Emit(topic, key, envelope);
}

}  // namespace probity::generate
