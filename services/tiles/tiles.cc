#include "services/tiles/tiles.h"

#include <httplib.h>

#include <chrono>

#include "common/logstore/proofs.h"
#include "common/merkle/tile.h"
#include "common/metrics/http_server.h"

namespace probity::tiles {
namespace {

constexpr char kImmutable[] = "public, max-age=31536000, immutable";

// A decimal without leading zeros (or "0"), at most max_digits long.
std::optional<uint64_t> Decimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

}  // namespace

StatusOr<TilePath> ParseTilePath(std::string_view path) {
  const Status bad = InvalidArgument("not a tile path: '" + std::string(path.substr(0, 100)) + "'");
  TilePath p;
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return bad;
  auto level = Decimal(path.substr(0, slash), 2);
  if (!level || *level > 63) return bad;
  p.level = static_cast<uint32_t>(*level);
  std::string_view rest = path.substr(slash + 1);
  if (const size_t dot = rest.find(".p/"); dot != std::string_view::npos) {
    auto w = Decimal(rest.substr(dot + 3), 3);
    if (!w || *w == 0 || *w > 255) return bad;
    p.width = static_cast<uint32_t>(*w);
    rest = rest.substr(0, dot);
  }
  // N: groups of three digits, every group but the last prefixed with 'x'.
  uint64_t n = 0;
  for (;;) {
    const size_t s = rest.find('/');
    std::string_view group = rest.substr(0, s);
    const bool last = s == std::string_view::npos;
    if (!last) {
      if (group.size() != 4 || group[0] != 'x') return bad;
      group.remove_prefix(1);
    }
    if (group.size() != 3) return bad;
    for (char c : group) {
      if (c < '0' || c > '9') return bad;
    }
    if (n > (UINT64_MAX - 999) / 1000) return bad;
    n = n * 1000 +
        static_cast<uint64_t>((group[0] - '0') * 100 + (group[1] - '0') * 10 + (group[2] - '0'));
    if (last) break;
    rest.remove_prefix(s + 1);
  }
  p.index = n;
  if (FormatTilePath(p) != path) return bad;  // the one canonical spelling (no extra zero groups)
  return p;
}

std::string FormatTilePath(const TilePath& p) {
  std::string n = std::to_string(p.index);
  n.insert(0, (3 - n.size() % 3) % 3, '0');
  std::string groups;
  for (size_t i = 0; i < n.size(); i += 3) {
    if (i + 3 < n.size()) groups += "x";
    groups += n.substr(i, 3);
    if (i + 3 < n.size()) groups += "/";
  }
  std::string out = std::to_string(p.level) + "/" + groups;
  if (p.width < 256) out += ".p/" + std::to_string(p.width);
  return out;
}

TileServer::TileServer(logstore::LogStore* store, note::Verifier log_key, int catch_up_ms)
    : store_(store), log_key_(std::move(log_key)), catch_up_ms_(catch_up_ms) {}

TileServer::~TileServer() { Stop(); }

Response TileServer::Get(std::string_view path) {
  if (path == "/checkpoint") return Checkpoint();
  if (path.rfind("/tile/entries/", 0) == 0 || path == "/tile/entries") {
    return Text(404,
                "entry bundles are not served here: entries carry patient-derived data and are "
                "served only through the api's scoped endpoints");
  }
  if (path.rfind("/tile/", 0) == 0) return Tile(path.substr(6));
  return Text(404, "not found (GET /checkpoint or /tile/<L>/<N>[.p/<W>])");
}

StatusOr<std::optional<v1::Checkpoint>> TileServer::Latest() {
  MutexLock l(&latest_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!refreshed_ || now - last_refresh_ >= std::chrono::milliseconds(catch_up_ms_)) {
    {
      std::unique_lock lock(catch_up_mu_);
      PROBITY_RETURN_IF_ERROR(store_->CatchUp());
    }
    std::shared_lock lock(catch_up_mu_);
    PROBITY_ASSIGN_OR_RETURN(latest_, logstore::LatestVerifiedCheckpoint(*store_, log_key_));
    last_refresh_ = now;
    refreshed_ = true;
  }
  return latest_;
}

Response TileServer::Checkpoint() {
  auto cp = Latest();
  if (!cp.ok()) return Text(503, cp.status().message());
  if (!*cp) return Text(404, "no verified checkpoint yet");
  Response r;
  r.body = (*cp)->signed_note();
  r.cache_control = "no-store";
  return r;
}

Response TileServer::Tile(std::string_view path) {
  auto p = ParseTilePath(path);
  if (!p.ok()) return Text(400, p.status().message());
  // Served only within the latest verified checkpoint: the tile's hashes cover entries
  // [.., (N * 256 + W) << 8L), which MUST NOT exceed its size.
  auto cp = Latest();
  if (!cp.ok()) return Text(503, cp.status().message());
  std::shared_lock lock(catch_up_mu_);
  const uint32_t node_level = p->level * merkle::kTileHeight;
  const uint64_t end_node = p->index * 256 + p->width;  // no overflow: index < 10^18
  if (!*cp || node_level >= 64 || p->index >= (uint64_t{1} << 55) ||
      end_node > ((*cp)->tree_size() >> node_level)) {
    return Text(404, "tile " + FormatTilePath(*p) + " is not within the latest checkpoint");
  }
  auto tile = store_->ReadTile(merkle::TileId{p->level, p->index});
  if (!tile.ok()) return Text(503, tile.status().message());
  if (!*tile || (*tile)->width() < p->width) {
    return Text(503, "tile " + FormatTilePath(*p) + " is missing from the store");
  }
  Response r;
  r.body.reserve(size_t{p->width} * merkle::kHashSize);
  for (uint32_t j = 0; j < p->width; ++j) {
    auto h = (*tile)->Get(merkle::NodeId{node_level, p->index * 256 + j});
    if (!h) return Text(503, "tile " + FormatTilePath(*p) + " is missing a hash");
    r.body.append(merkle::AsBytes(*h));
  }
  r.content_type = "application/octet-stream";
  r.cache_control = kImmutable;
  return r;
}

Status TileServer::Start(const std::string& host, int port) {
  http_ = std::make_unique<httplib::Server>();
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Response r = Get(req.path);
    res.status = r.status;
    if (!r.cache_control.empty()) res.set_header("Cache-Control", r.cache_control);
    res.set_content(r.body, r.content_type.c_str());
  };
  http_->Get("/checkpoint", handler);
  http_->Get(R"(/tile/.*)", handler);
  return metrics::ListenInBackground(http_.get(), host, port, "tiles", &port_, &thread_);
}

void TileServer::Stop() {
  if (thread_.joinable()) {
    http_->stop();
    thread_.join();
  }
}

}  // namespace probity::tiles
