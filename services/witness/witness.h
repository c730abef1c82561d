// A checkpoint witness (c2sp.org/tlog-witness, cosignatures of c2sp.org/tlog-cosignature): run
// by a practice, a Local Medical Committee or an auditor, it cosigns each checkpoint of a log it
// has checked consistent with the last one it cosigned, so that the log cannot show one history
// to one party and another to someone else.
//
//   POST /add-checkpoint          body: "old <size>\n", consistency proof lines (base64), "\n",
//                                 then the signed checkpoint. Answers:
//     200  one cosignature/v1 line by the witness key (text/plain)
//     400  malformed request, or old size above the checkpoint's
//     403  no valid signature by the log's key (or a bad one by it)
//     404  unknown origin
//     409  old size is not the size the witness holds; body "<size it holds>\n",
//          Content-Type: text/x.tlog.size
//     422  size 0 with a root that is not the empty tree's, a non-empty proof from 0, a proof
//          that does not verify, or the same size with another root
//   GET /<hex SHA-256 of origin>/checkpoint   the latest checkpoint it cosigned, with the log's
//                                 signature and its cosignature (404 if none)
//
// Guarantees: per log it keeps, in RocksDB, the latest checkpoint it cosigned; it MUST NOT roll
// back: a checkpoint is cosigned only if its old size is the stored size and it is consistent with
// the stored root, and the check and the (fsynced) update happen under one lock, before the
// answer. A validly signed checkpoint that fails the consistency checks is kept (conflict/...)
// as evidence of the log's misbehaviour.
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/note/note.h"
#include "common/status/status.h"
#include "common/sync/mutex.h"
#include "common/time/clock.h"
#include "probity/v1/proofs.pb.h"

namespace httplib {
class Server;
}

namespace probity::witness {

// A log the witness follows: its origin and its signed-note verifier key (Ed25519, type 0x01).
struct LogConfig {
  std::string origin;
  std::string vkey;
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

class Witness {
 public:
  // Opens (creating if missing) the state in state_dir. `cosigner` is the witness key (type
  // kAlgCosignatureV1). kInvalidArgument for a bad log key or cosigner, or an origin given twice.
  // REQUIRES: clock outlives the witness.
  static StatusOr<std::unique_ptr<Witness>> Open(const std::string& state_dir,
                                                 const std::vector<LogConfig>& logs,
                                                 note::Signer cosigner, const Clock* clock);
  ~Witness();

  // POST /add-checkpoint. Thread-safe.
  Reply AddCheckpoint(std::string_view body) EXCLUDES(mu_);
  // GET /<origin hash>/checkpoint.
  Reply GetCheckpoint(std::string_view origin_hash_hex) const;
  // The latest checkpoint cosigned for `origin` (nullopt: none yet).
  StatusOr<std::optional<v1::Checkpoint>> Latest(const std::string& origin) const;

  const note::Signer& cosigner() const { return cosigner_; }

  // Serves the two endpoints over HTTP on a background thread (port 0: any; see port()).
  Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  struct Log {
    std::string origin;
    note::Verifier key;
  };
  Witness(std::unique_ptr<rocksdb::DB> db, std::vector<Log> logs, note::Signer cosigner,
          const Clock* clock);
  Status KeepConflict(const std::string& origin, std::string_view body);

  std::unique_ptr<rocksdb::DB> db_;
  const std::vector<Log> logs_;
  const note::Signer cosigner_;
  const Clock* clock_;
  Mutex mu_;  // held from the check of the old size to the stored update
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace probity::witness
