// Small POSIX file helpers shared by the stores: whole writes and reads that retry EINTR and
// short counts, and fsync of a folder (so that a rename or create in it is durable).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace dlfs {

// Writes all of `data` to `fd`.
Status write_all(int fd, const char* data, size_t size);
// Writes all of `data` to `fd` at `offset`.
Status pwrite_all(int fd, uint64_t offset, const char* data, size_t size);
// Reads into `out` from `offset` until it is full or the file ends; answers the bytes read.
Result<size_t> pread_full(int fd, uint64_t offset, std::span<char> out);
// Copies the rest of `in` to `out`; answers the bytes copied.
Result<uint64_t> copy_fd(int in, int out);
Status fsync_dir(const std::string& dir);
// fsync of a file by its path.
Status fsync_file(const std::string& path);
// Raises this process's soft limit of open descriptors to its hard limit (a daemon that holds
// many: spool and cache files, uploads in flight, connections). A login shell's soft limit is
// 1,024 for the select(2) of old programs, which these daemons do not use; Go's runtime does the
// same for every program. Answers the limit now in force.
uint64_t raise_open_file_limit();

}  // namespace dlfs
