// Uploads in parts (dlfs's extension, server/routes_upload_session.cpp): a large file is sent as
// numbered parts, several at once, into a session's file; a client that stopped (a crash, a lost
// connection) asks what the session has and sends only the parts missing; `complete` hands the
// file to the platform as one upload.
//
// Sessions live as long as dlfsd does: their files are "<store>/tmp/<pid>-session-<id>", removed
// by the platform's start-up sweep once this process is gone (a client then starts over). A
// session idle for a day is dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/requests.h"
#include "core/result.h"

namespace dlfs {

// Bounds of a session: parts of 64 KiB to 256 MiB, at most 10,000 of them.
inline constexpr uint64_t kMinPartSize = 64 << 10;
inline constexpr uint64_t kMaxPartSize = 256 << 20;
inline constexpr uint64_t kMaxParts = 10000;

struct UploadSessionRequest {
  std::string dataset_id;
  std::string path;
  uint64_t size = 0;
  uint64_t part_size = 0;
  // The client's name for this upload of these bytes: a session opened again with the same key
  // (and dataset, path, size and part size) is the same session. "" for a new one every time.
  std::string key;
  UploadOptions options;  // mode, replace, metadata, description; user is the caller
};

// What a session is at one moment.
struct UploadSessionState {
  std::string id;
  UploadSessionRequest request;
  std::vector<uint64_t> received;  // part numbers, ascending
  uint64_t parts = 0;
};

class UploadSessions {
 public:
  // `tmp_dir`: the store's tmp folder (swept of a dead process's files at the platform's start).
  explicit UploadSessions(std::string tmp_dir) : tmp_dir_(std::move(tmp_dir)) {}
  ~UploadSessions();  // removes the files of the sessions left

  // A new session, or the one of the same caller with the same key and request.
  Result<UploadSessionState> open(const UploadSessionRequest& request);
  // ENOENT for an unknown session, or another caller's.
  Result<UploadSessionState> get(const std::string& id, const std::string& user);
  // Part `n`'s bytes, written by `fill` into the session's file descriptor at the part's offset;
  // `fill` answers how many it wrote, which must be the part's length. The part counts as
  // received only then. EINVAL for a part out of range; EBUSY once the session is completing.
  using FillPart = std::function<Result<uint64_t>(int fd, uint64_t offset, uint64_t length)>;
  Status put_part(const std::string& id, const std::string& user, uint64_t n, const FillPart& fill);
  // The session's file once every part is in (the session then takes no more parts): EBUSY with
  // the missing part numbers otherwise. finish() ends the session after the caller used it.
  //
  // A complete may take minutes (a big file into a bucket) and its client may give up waiting and
  // ask again: a complete asked while another is under way waits for its end (up to `wait`, then
  // EBUSY); one asked after it succeeded answers `completed_item` (the item it made, kept for an
  // hour) instead of the file, so asking again never fails an upload that landed.
  struct CompleteTicket {
    UploadSessionRequest request;
    std::string file;
    std::string completed_item, completed_op;  // set: completed already, by an earlier call
  };
  Result<CompleteTicket> begin_complete(const std::string& id, const std::string& user, std::vector<uint64_t>* missing,
                                        std::chrono::milliseconds wait = std::chrono::minutes(15));
  // Ends a completion: `item_id` (and its op) when it succeeded; when it failed, `keep` leaves the
  // session (and its file) for a retry, else it is removed.
  void finish(const std::string& id, bool keep, const std::string& item_id = {}, const std::string& op = {});
  Status abort(const std::string& id, const std::string& user);

  // Part n's byte range in a session of `size` bytes in parts of `part_size`.
  static uint64_t part_length(uint64_t size, uint64_t part_size, uint64_t n);

 private:
  struct Session {
    std::string id;
    UploadSessionRequest request;
    std::string file;
    std::vector<bool> received;
    int writing = 0;          // parts being written now
    bool completing = false;  // begin_complete took it
    std::string completed_item, completed_op;  // completed (its file gone): what a complete asked again answers
    std::chrono::steady_clock::time_point touched;
  };
  std::shared_ptr<Session> find_locked(const std::string& id, const std::string& user);
  static UploadSessionState state_of(const Session& s);
  void sweep_idle_locked();

  std::string tmp_dir_;
  std::mutex mu_;
  std::condition_variable completed_;  // a completion ended
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace dlfs
