#include "common/bus/tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

namespace probity::bus {
namespace {

int ConnectTo(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

}  // namespace

StatusOr<std::unique_ptr<TcpForwarder>> TcpForwarder::Start(int port, const std::string& upstream) {
  std::unique_ptr<TcpForwarder> f(new TcpForwarder());
  auto colon = upstream.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("forwarder: upstream must be host:port");
  f->upstream_host_ = upstream.substr(0, colon);
  f->upstream_port_ = std::atoi(upstream.c_str() + colon + 1);
  f->listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (f->listen_fd_ < 0) return IoError(std::string("forwarder: socket: ") + strerror(errno));
  int one = 1;
  setsockopt(f->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(f->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Unavailable("embedded bus: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                       strerror(errno) + " (is another bus running? choose another --port)");
  }
  if (listen(f->listen_fd_, 64) != 0)
    return IoError(std::string("forwarder: listen: ") + strerror(errno));
  if (pipe(f->wake_pipe_) != 0) return IoError("forwarder: pipe failed");
  f->thread_ = std::thread([p = f.get()] { p->Run(); });
  return f;
}

TcpForwarder::~TcpForwarder() {
  if (wake_pipe_[1] >= 0) {
    char c = 1;
    (void)!write(wake_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : {listen_fd_, wake_pipe_[0], wake_pipe_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void TcpForwarder::Run() {
  std::map<int, int> peer;  // fd -> the fd it relays to
  std::vector<char> buf(64 * 1024);
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& [fd, _] : peer) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client >= 0) {
        int up = ConnectTo(upstream_host_, upstream_port_);
        if (up < 0) {
          close(client);
        } else {
          peer[client] = up;
          peer[up] = client;
        }
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      int fd = fds[i].fd;
      auto it = peer.find(fd);
      if (it == peer.end()) continue;  // closed earlier in this round
      int other = it->second;
      ssize_t n = read(fd, buf.data(), buf.size());
      bool ok = n > 0;
      for (ssize_t off = 0; ok && off < n;) {
        ssize_t w = send(other, buf.data() + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
          ok = false;
        else
          off += w;
      }
      if (!ok) {
        close(fd);
        close(other);
        peer.erase(fd);
        peer.erase(other);
      }
    }
  }
  for (const auto& [fd, _] : peer) close(fd);
}

}  // namespace probity::bus
