// The log's hash tiles and checkpoint over HTTP, as c2sp.org/tlog-tiles defines them: anyone can
// fetch the Merkle tree and compute any proof without asking the log for it.
//
//   GET /checkpoint                 the latest stored checkpoint whose note verifies with the
//                                   log's key (with the witness cosignatures it carries);
//                                   text/plain; charset=utf-8; not cached
//   GET /tile/<L>/<N>[.p/<W>]       hash tile N at level L (full: 256 hashes; .p/W: the first W);
//                                   application/octet-stream; immutable
//
// Hashes only: entry bundles (/tile/entries/...) are NOT served (404), since entries carry
// patient-derived references and are served only through the api's scoped endpoints. A tile is
// served only if every hash in it is covered by the latest verified checkpoint. Read-only: the
// server reads the store's height-8 tiles (row 0 of the stored tile (L, N) is exactly the C2SP
// tile L/N) and writes nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/logstore/store.h"
#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "probity/v1/proofs.pb.h"

namespace httplib {
class Server;
}

namespace probity::tiles {

// A tile path of c2sp.org/tlog-tiles, without the leading "tile/": "<L>/<N>[.p/<W>]".
struct TilePath {
  uint32_t level = 0;    // 0..63
  uint64_t index = 0;    // N
  uint32_t width = 256;  // 256 for a full tile, 1..255 for a partial one
};

// Parses "<L>/<N>[.p/<W>]" strictly (no leading zeros; N as 3-digit groups, all but the last
// prefixed with 'x'). kInvalidArgument otherwise.
StatusOr<TilePath> ParseTilePath(std::string_view path);
// The inverse: ParseTilePath(FormatTilePath(p)) == p.
std::string FormatTilePath(const TilePath& p);

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  std::string cache_control;
};

// Answers tlog-tiles requests from a log store. Thread-safe.
class TileServer {
 public:
  // REQUIRES: store outlives the server. The latest verified checkpoint is looked up again at
  // most every catch_up_ms; when the store is a secondary instance (another process writes the
  // log), it first catches up with the writer.
  TileServer(logstore::LogStore* store, note::Verifier log_key, int catch_up_ms = 500);
  ~TileServer();

  // The answer to GET `path` ("/checkpoint", "/tile/...").
  Response Get(std::string_view path);

  // Serves over HTTP on a background thread (port 0: any free port; see port()).
  Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  Response Checkpoint();
  Response Tile(std::string_view path);
  // The latest verified checkpoint, recomputed (after catching up) at most every catch_up_ms.
  StatusOr<std::optional<v1::Checkpoint>> Latest() EXCLUDES(latest_mu_);

  logstore::LogStore* store_;
  note::Verifier log_key_;
  const int catch_up_ms_;
  std::shared_mutex catch_up_mu_;  // exclusive while catching up, shared while reading
  Mutex latest_mu_;
  bool refreshed_ GUARDED_BY(latest_mu_) = false;
  std::chrono::steady_clock::time_point last_refresh_ GUARDED_BY(latest_mu_);
  std::optional<v1::Checkpoint> latest_ GUARDED_BY(latest_mu_);
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace probity::tiles
