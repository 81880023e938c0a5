// A free TCP port on 127.0.0.1 for a server a test starts (an emulator, a metrics endpoint).
#pragma once

namespace dlfs::test {

// A port on 127.0.0.1 nobody listened on a moment ago (the kernel's pick); -1 if none.
int free_loopback_port();

}  // namespace dlfs::test
