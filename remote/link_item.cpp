#include "remote/link_item.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/file_io.h"
#include "net/link_policy.h"

namespace dlfs {

Result<Item> make_link_item(Remote& remote, const LinkItemRequest& request) {
  DLFS_TRY(check_link_target(request.url));
  // Asked first (a folder there is refused differently by each platform); the create-only upload
  // below still refuses one made meanwhile.
  auto there = remote.get(request.path);
  if (there) return Status(EEXIST, request.path + " exists" + (there->is_dir() ? " (a folder)" : ""));
  if (there.err() != ENOENT) return there.status();
  std::string body = make_link_json(request.url, request.mimetype).dump();
  std::string file = request.scratch_dir + "/link-XXXXXX";
  int fd = ::mkstemp(file.data());
  if (fd < 0) {
    int err = errno;
    return Status(err, "cannot write a link's JSON in " + request.scratch_dir, strerror(err));
  }
  struct Cleanup {
    int fd;
    std::string file;
    ~Cleanup() {
      ::close(fd);
      ::unlink(file.c_str());
    }
  } cleanup{fd, file};
  DLFS_TRY(write_all(fd, body.data(), body.size()));

  UploadOptions options;
  options.mode = UploadMode::kSkip;  // create-only: never replaces what is there
  auto uploaded = remote.upload(file, request.path, options);
  if (!uploaded && uploaded.err() == EISDIR) return Status(EEXIST, request.path + " exists (a folder)");
  DLFS_ASSIGN(UploadResult up, std::move(uploaded));
  if (up.op == UploadOp::kSkipped) return Status(EEXIST, request.path + " exists");
  if (!up.item.is_link()) {
    // A platform that tells link JSONs only by a .json name: what it made is no link; take it back.
    Status removed = remote.remove(up.item.id);
    return Status(ENOTSUP, "the platform did not take " + request.path + " as a link item (it makes them only " +
                               "from *.json names)", removed ? "" : "and it stays: " + removed.to_string());
  }
  return std::move(up.item);
}

}  // namespace dlfs
