// Ports on 127.0.0.1 for a server a test starts (an emulator, a metrics endpoint), and sockets
// bound to one (a server that accepts and never answers, a port nothing listens on).
#pragma once

namespace dlfs::test {

// A TCP socket bound to a port of 127.0.0.1 the kernel picks (listening if asked); -1 on failure.
// Its port in `port`; the caller closes it.
int loopback_socket(bool listening, int& port);

// A port on 127.0.0.1 nobody listened on a moment ago (the kernel's pick); -1 if none.
int free_loopback_port();

}  // namespace dlfs::test
