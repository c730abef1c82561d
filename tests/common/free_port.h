// A loopback TCP port that is free now, for a server or a process a test starts. ctest runs test
// processes side by side, so no test may fix a port: a fixed number can be another test's
// listening or ephemeral port at that moment. The kernel picks it from a plain socket (httplib
// binds with SO_REUSEPORT, which may share a port someone else holds, so it cannot be asked).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace probity::testing {

// -1 if no port could be had.
inline int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace probity::testing
