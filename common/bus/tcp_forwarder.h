// A loopback TCP relay: accepts on 127.0.0.1:<port> and pipes each connection to an upstream
// host:port. Used to give the embedded bus a fixed, configurable bootstrap port.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/status/status.h"

namespace probity::bus {

class TcpForwarder {
 public:
  // Binds 127.0.0.1:port (fails with a clear message when the port is taken) and starts relaying
  // to upstream ("host:port") on a background thread.
  static StatusOr<std::unique_ptr<TcpForwarder>> Start(int port, const std::string& upstream);
  ~TcpForwarder();  // stops the thread and closes every socket

 private:
  TcpForwarder() = default;
  void Run();
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::string upstream_host_;
  int upstream_port_ = 0;
  std::thread thread_;
};

}  // namespace probity::bus
