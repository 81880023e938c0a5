#include "server/upload_sessions.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/ids.h"

namespace dlfs {
namespace {

constexpr auto kIdleLimit = std::chrono::hours(24);
constexpr auto kCompletedKept = std::chrono::hours(1);

bool same_request(const UploadSessionRequest& a, const UploadSessionRequest& b) {
  return a.dataset_id == b.dataset_id && a.path == b.path && a.size == b.size && a.part_size == b.part_size &&
         a.options.user == b.options.user;
}

}  // namespace

UploadSessions::~UploadSessions() {
  for (auto& [id, s] : sessions_) ::unlink(s->file.c_str());
}

uint64_t UploadSessions::part_length(uint64_t size, uint64_t part_size, uint64_t n) {
  uint64_t offset = n * part_size;
  return offset >= size ? 0 : std::min(part_size, size - offset);
}

UploadSessionState UploadSessions::state_of(const Session& s) {
  UploadSessionState st;
  st.id = s.id;
  st.request = s.request;
  st.parts = s.received.size();
  for (uint64_t n = 0; n < s.received.size(); ++n)
    if (s.received[n]) st.received.push_back(n);
  return st;
}

void UploadSessions::sweep_idle_locked() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& s = *it->second;
    bool done = !s.completed_item.empty();
    if (s.writing == 0 && !s.completing && now - s.touched > (done ? kCompletedKept : kIdleLimit)) {
      ::unlink(s.file.c_str());
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<UploadSessionState> UploadSessions::open(const UploadSessionRequest& request) {
  if (request.part_size < kMinPartSize || request.part_size > kMaxPartSize)
    return Status(EINVAL, "partSize must be between " + std::to_string(kMinPartSize) + " and " +
                              std::to_string(kMaxPartSize) + " bytes");
  uint64_t parts = request.size == 0 ? 1 : (request.size + request.part_size - 1) / request.part_size;
  if (parts > kMaxParts)
    return Status(EINVAL, "a session holds at most " + std::to_string(kMaxParts) + " parts; use larger parts");
  std::lock_guard lock(mu_);
  sweep_idle_locked();
  if (!request.key.empty())
    for (auto& [id, s] : sessions_)
      if (s->request.key == request.key && same_request(s->request, request) && !s->completing &&
          s->completed_item.empty()) {
        s->touched = std::chrono::steady_clock::now();
        return state_of(*s);
      }
  auto s = std::make_shared<Session>();
  s->id = new_id();
  s->request = request;
  s->file = tmp_dir_ + "/" + std::to_string(getpid()) + "-session-" + s->id;
  s->received.assign(parts, false);
  s->touched = std::chrono::steady_clock::now();
  int fd = ::open(s->file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status(errno, "cannot create an upload session file", strerror(errno));
  // The whole size at once (sparse): parts arrive in any order, the last one first.
  int rc = ::ftruncate(fd, off_t(request.size));
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    ::unlink(s->file.c_str());
    return Status(err, "cannot size an upload session file", strerror(err));
  }
  sessions_[s->id] = s;
  return state_of(*s);
}

std::shared_ptr<UploadSessions::Session> UploadSessions::find_locked(const std::string& id, const std::string& user) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->request.options.user != user) return nullptr;
  it->second->touched = std::chrono::steady_clock::now();
  return it->second;
}

Result<UploadSessionState> UploadSessions::get(const std::string& id, const std::string& user) {
  std::lock_guard lock(mu_);
  auto s = find_locked(id, user);
  if (!s) return Status(ENOENT, "no upload session '" + id + "' (it ended, or the server restarted)");
  return state_of(*s);
}

Status UploadSessions::put_part(const std::string& id, const std::string& user, uint64_t n, const FillPart& fill) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    s = find_locked(id, user);
    if (!s) return Status(ENOENT, "no upload session '" + id + "' (it ended, or the server restarted)");
    if (n >= s->received.size())
      return Status(EINVAL, "part " + std::to_string(n) + " is past the last part (" +
                                std::to_string(s->received.size() - 1) + ")");
    if (s->completing || !s->completed_item.empty()) return Status(EBUSY, "the upload session is being completed");
    ++s->writing;
  }
  uint64_t length = part_length(s->request.size, s->request.part_size, n);
  Status done;
  int fd = ::open(s->file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    done = Status(errno, "cannot open the upload session file", strerror(errno));
  } else {
    auto wrote = fill(fd, n * s->request.part_size, length);
    if (::close(fd) != 0 && wrote) done = Status(errno, "cannot write the upload session file", strerror(errno));
    else if (!wrote) done = wrote.status();
    else if (*wrote != length)
      done = Status(EINVAL, "part " + std::to_string(n) + " has " + std::to_string(*wrote) + " bytes; it must have " +
                                std::to_string(length));
  }
  std::lock_guard lock(mu_);
  --s->writing;
  if (done) s->received[n] = true;
  return done;
}

Result<UploadSessions::CompleteTicket> UploadSessions::begin_complete(const std::string& id, const std::string& user,
                                                                     std::vector<uint64_t>* missing,
                                                                     std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  auto s = find_locked(id, user);
  if (!s) return Status(ENOENT, "no upload session '" + id + "' (it ended, or the server restarted)");
  // (the session is held: a finish that erases it still ends this wait)
  if (!completed_.wait_for(lock, wait, [&] { return !s->completing; }))
    return Status(EBUSY, "the upload session is being completed");
  if (!s->completed_item.empty()) return CompleteTicket{s->request, {}, s->completed_item, s->completed_op};
  if (sessions_.count(id) == 0) return Status(ENOENT, "no upload session '" + id + "' (its completion failed)");
  std::vector<uint64_t> absent;
  for (uint64_t n = 0; n < s->received.size(); ++n)
    if (!s->received[n]) absent.push_back(n);
  // (a part being written again is received already: its bytes are the same ones)
  if (!absent.empty() || s->writing > 0) {
    if (missing) *missing = absent;
    return Status(EBUSY, absent.empty() ? "parts are still being written"
                                        : std::to_string(absent.size()) + " parts are missing");
  }
  s->completing = true;
  return CompleteTicket{s->request, s->file, {}, {}};
}

void UploadSessions::finish(const std::string& id, bool keep, const std::string& item_id, const std::string& op) {
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    Session& s = *it->second;
    s.completing = false;
    s.touched = std::chrono::steady_clock::now();
    if (!item_id.empty()) {
      ::unlink(s.file.c_str());
      s.completed_item = item_id;
      s.completed_op = op;
    } else if (!keep) {
      ::unlink(s.file.c_str());
      sessions_.erase(it);
    }
  }
  completed_.notify_all();
}

Status UploadSessions::abort(const std::string& id, const std::string& user) {
  std::lock_guard lock(mu_);
  auto s = find_locked(id, user);
  if (!s) return Status(ENOENT, "no upload session '" + id + "'");
  if (s->completing) return Status(EBUSY, "the upload session is being completed");
  ::unlink(s->file.c_str());  // (completed: nothing there)
  sessions_.erase(id);  // (a part being written keeps its Session; its file is gone)
  return {};
}

}  // namespace dlfs
