#include "common/note/key_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace probity::note {
namespace {

// Creates path exclusively with `mode` and writes data + "\n", then fsyncs it.
Status WriteNew(const std::string& path, const std::string& data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status(Code::kAlreadyExists, path + " already exists; not overwriting");
    }
    return IoError("cannot create " + path + ": " + std::strerror(errno));
  }
  Status st;
  // The umask can only clear bits; fchmod makes the mode exact either way.
  if (::fchmod(fd, mode) != 0) st = IoError("chmod " + path + ": " + std::strerror(errno));
  std::string line = data + "\n";
  for (size_t off = 0; st.ok() && off < line.size();) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      st = IoError("write " + path + ": " + std::strerror(errno));
      break;
    }
    off += static_cast<size_t>(n);
  }
  std::fill(line.begin(), line.end(), '\0');  // may have held the private key
  if (st.ok() && ::fsync(fd) != 0) st = IoError("fsync " + path + ": " + std::strerror(errno));
  if (::close(fd) != 0 && st.ok()) st = IoError("close " + path + ": " + std::strerror(errno));
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

}  // namespace

Status WriteKeyFiles(const KeyPair& kp, const std::string& dir) {
  // A log's key or a witness's cosigner key (kAlgCosignatureV1).
  StatusOr<Signer> parsed = Signer::FromSignerKey(kp.signer_key);
  if (!parsed.ok()) {
    if (auto cosigner = Signer::FromSignerKey(kp.signer_key, kAlgCosignatureV1); cosigner.ok()) {
      parsed = std::move(cosigner);
    }
  }
  PROBITY_ASSIGN_OR_RETURN(Signer signer, std::move(parsed));
  if (signer.verifier_key() != kp.verifier_key) {
    return InvalidArgument("note: verifier key does not belong to the signer key");
  }
  const std::string key_path = dir + "/" + kSignerKeyFile;
  const std::string pub_path = dir + "/" + kVerifierKeyFile;
  struct stat sb;
  if (::lstat(pub_path.c_str(), &sb) == 0) {
    return Status(Code::kAlreadyExists, pub_path + " already exists; not overwriting");
  }
  PROBITY_RETURN_IF_ERROR(WriteNew(key_path, kp.signer_key, 0600));
  if (Status st = WriteNew(pub_path, kp.verifier_key, 0644); !st.ok()) {
    ::unlink(key_path.c_str());
    return st;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    const std::string err = std::strerror(errno);
    if (dfd >= 0) ::close(dfd);
    ::unlink(key_path.c_str());
    ::unlink(pub_path.c_str());
    return IoError("fsync directory " + dir + ": " + err);
  }
  ::close(dfd);
  return Status::Ok();
}

StatusOr<std::string> ReadKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NotFound("no key file " + path);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return IoError("cannot read " + path);
  std::string key = ss.str();
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (!key.empty() && key.back() == '\r') key.pop_back();
  return key;
}

namespace {

// The text of a key given on a command line: the file it names, or else the argument itself.
StatusOr<std::string> KeyText(const std::string& file_or_key) {
  struct stat st;
  if (::stat(file_or_key.c_str(), &st) == 0) return ReadKeyFile(file_or_key);
  return file_or_key;
}

}  // namespace

StatusOr<Verifier> LoadVerifierKey(const std::string& file_or_key) {
  PROBITY_ASSIGN_OR_RETURN(std::string text, KeyText(file_or_key));
  return Verifier::FromVerifierKey(text);
}

StatusOr<std::vector<Verifier>> ParseLogKeys(const std::vector<std::string>& texts) {
  std::vector<Verifier> keys;
  for (const std::string& text : texts) {
    PROBITY_ASSIGN_OR_RETURN(Verifier v, Verifier::FromVerifierKey(text));
    if (!keys.empty() && v.name() != keys.front().name()) {
      return InvalidArgument("the log's keys name different logs ('" + keys.front().name() +
                             "' and '" + v.name() + "'): one log keeps its origin across keys");
    }
    keys.push_back(std::move(v));
  }
  if (keys.empty()) return InvalidArgument("no verifier key");
  return keys;
}

std::vector<std::string> SplitKeyLines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.emplace_back(line);
  }
  return lines;
}

StatusOr<std::vector<std::string>> LoadVerifierKeyTexts(const std::string& file_or_key) {
  PROBITY_ASSIGN_OR_RETURN(std::string text, KeyText(file_or_key));
  std::vector<std::string> lines = SplitKeyLines(text);
  PROBITY_RETURN_IF_ERROR(ParseLogKeys(lines).status());
  return lines;
}

StatusOr<std::vector<Verifier>> LoadVerifierKeys(const std::string& file_or_key) {
  PROBITY_ASSIGN_OR_RETURN(std::string text, KeyText(file_or_key));
  return ParseLogKeys(SplitKeyLines(text));
}

}  // namespace probity::note
