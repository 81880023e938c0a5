#include "remote/fake_remote.h"

#include "core/posix_attrs.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/ids.h"
#include "core/json_util.h"
#include "core/paths.h"
#include "core/posix_attrs.h"

namespace dlfs {

std::string_view to_string(RemoteCall call) {
  static constexpr std::string_view names[kRemoteCallKinds] = {
      "list", "get", "get_by_id", "query", "read", "thumbnail",
      "upload", "patch", "move", "remove", "make_dir"};
  return names[size_t(call)];
}

FakeRemote::FakeRemote(std::string dataset_name) {
  dataset_.id = new_id();
  dataset_.name = std::move(dataset_name);
  dataset_.creator = "dev@local";
  dataset_.created_ms = dataset_.updated_ms = clock_ms_;
  Item root = make_item("/", ItemType::kDir);
  items_.emplace("/", Stored{root, {}, {}});
}

FakeRemote::~FakeRemote() { release_reads(); }

Item FakeRemote::make_item(std::string_view path, ItemType type) {
  Item item;
  item.id = new_id();
  item.dataset_id = dataset_.id;
  item.set_path(path);
  item.type = type;
  item.created_ms = item.updated_ms = next_time_locked();
  item.creator = item.updated_by = "dev@local";
  return item;
}

void FakeRemote::ensure_parents_locked(std::string_view path) {
  std::string parent = parent_path(path);
  if (parent.empty() || items_.count(parent)) return;
  ensure_parents_locked(parent);
  items_.emplace(parent, Stored{make_item(parent, ItemType::kDir), {}, {}});
}

Item FakeRemote::add_file(std::string_view path, std::string content, json user_metadata) {
  std::lock_guard lock(mu_);
  return add_file_locked(path, std::move(content), std::move(user_metadata));
}

Item FakeRemote::add_file_locked(std::string_view path, std::string content, json user_metadata) {
  ensure_parents_locked(path);
  Item item = make_item(path, ItemType::kFile);
  item.system()["size"] = content.size();
  item.system()["originalname"] = item.name;
  item.system()["mimetype"] = "application/octet-stream";
  if (!user_metadata.is_null()) item.metadata["user"] = std::move(user_metadata);
  items_[std::string(path)] = Stored{item, std::move(content), {}};
  return item;
}

Item FakeRemote::add_dir(std::string_view path) {
  std::lock_guard lock(mu_);
  if (auto it = items_.find(path); it != items_.end()) return it->second.item;
  ensure_parents_locked(path);
  Item item = make_item(path, ItemType::kDir);
  items_[std::string(path)] = Stored{item, {}, {}};
  return item;
}

Item FakeRemote::add_link(std::string_view path, std::string_view url, std::string_view mimetype) {
  std::string body = make_link_json(url, mimetype).dump();
  std::lock_guard lock(mu_);
  ensure_parents_locked(path);
  Item item = make_item(path, ItemType::kFile);
  item.system()["size"] = body.size();
  item.system()["mimetype"] = "application/json";
  item.system()["shebang"] = json::parse(body)["metadata"];
  items_[std::string(path)] = Stored{item, std::move(body), {}};
  return item;
}

Item FakeRemote::add_hidden_file(std::string_view path, std::string content) {
  Item item = add_file(path, std::move(content));
  std::lock_guard lock(mu_);
  items_[item.filename].item.hidden = true;
  return items_[item.filename].item;
}

void FakeRemote::put_item(const Item& item) {
  std::lock_guard lock(mu_);
  items_[item.filename].item = item;
}

Item FakeRemote::rewrite_file(std::string_view path, std::string content) {
  std::lock_guard lock(mu_);
  Stored& s = items_.at(std::string(path));
  s.item.updated_ms = next_time_locked();
  s.item.system()["size"] = content.size();
  s.content = std::move(content);
  return s.item;
}

void FakeRemote::set_thumbnail(std::string_view path, std::string jpeg) {
  std::lock_guard lock(mu_);
  Stored& s = items_.at(std::string(path));
  s.thumbnail = std::move(jpeg);
  s.item.system()["thumbnailId"] = new_id();
}

void FakeRemote::erase(std::string_view path) {
  std::lock_guard lock(mu_);
  for (auto it = items_.begin(); it != items_.end();) {
    if (it->first != "/" && is_same_or_under(it->first, path)) it = items_.erase(it);
    else ++it;
  }
}

std::optional<Item> FakeRemote::item_at(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(path);
  if (it == items_.end()) return std::nullopt;
  return it->second.item;
}

uint64_t FakeRemote::total_calls() const {
  uint64_t n = 0;
  for (auto& c : calls_) n += c.load();
  return n;
}

void FakeRemote::reset_calls() {
  for (auto& c : calls_) c = 0;
}

void FakeRemote::fail_next(RemoteCall call, int count, int err) {
  std::lock_guard lock(mu_);
  faults_[size_t(call)] = {count, err};
}

void FakeRemote::set_read_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(delay_mu_);
  read_delay_ = delay;
}

void FakeRemote::release_reads() {
  std::lock_guard lock(delay_mu_);
  read_delay_ = std::chrono::milliseconds(0);
  ++delay_epoch_;
  delay_cv_.notify_all();
}

Status FakeRemote::enter(RemoteCall call) {
  ++calls_[size_t(call)];
  std::lock_guard lock(mu_);
  auto& [remaining, err] = faults_[size_t(call)];
  if (remaining > 0) {
    --remaining;
    return Status(err, "injected fault in " + std::string(to_string(call)));
  }
  return {};
}

FakeRemote::Stored* FakeRemote::find_by_id_locked(std::string_view id) {
  for (auto& [path, s] : items_)
    if (s.item.id == id) return &s;
  return nullptr;
}

Result<std::vector<const Item*>> FakeRemote::children_locked(std::string_view dir) {
  auto d = items_.find(dir);
  if (d == items_.end()) return Status(ENOENT, "no folder " + std::string(dir));
  if (!d->second.item.is_dir()) return Status(ENOTDIR, std::string(dir) + " is not a folder");
  std::vector<const Item*> children;
  for (auto& [path, s] : items_)
    if (path != "/" && s.item.dir == dir && !s.item.hidden) children.push_back(&s.item);
  std::sort(children.begin(), children.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return children;
}

// As the platform's: the first page counts the folder, a range's page what is left of the range.
Result<ItemPage> FakeRemote::list_range(std::string_view dir, std::string_view after, std::string_view until,
                                        size_t page_size) {
  DLFS_TRY(enter(RemoteCall::kList));
  std::lock_guard lock(mu_);
  DLFS_ASSIGN(auto children, children_locked(dir));
  auto by_id = [](std::string_view a, const Item* b) { return a < b->id; };
  auto it = after.empty() ? children.begin() : std::upper_bound(children.begin(), children.end(), after, by_id);
  auto end = until.empty() ? children.end() : std::upper_bound(it, children.end(), until, by_id);
  ItemPage page;
  page.total = until.empty() ? children.size() : size_t(end - it);
  for (; it != end && page.items.size() < page_size; ++it) page.items.push_back(**it);
  if (it != end && !page.items.empty()) page.next_after = page.items.back().id;
  return page;
}

Result<std::string> FakeRemote::listing_id_at(std::string_view dir, uint64_t offset) {
  DLFS_TRY(enter(RemoteCall::kQuery));
  std::lock_guard lock(mu_);
  DLFS_ASSIGN(auto children, children_locked(dir));
  return offset < children.size() ? children[offset]->id : std::string();
}

Result<Item> FakeRemote::get(std::string_view path) {
  DLFS_TRY(enter(RemoteCall::kGet));
  std::lock_guard lock(mu_);
  auto it = items_.find(path);
  if (it == items_.end()) return Status(ENOENT, "no item at " + std::string(path));
  return it->second.item;
}

Result<Item> FakeRemote::get_by_id(std::string_view id) {
  DLFS_TRY(enter(RemoteCall::kGetById));
  std::lock_guard lock(mu_);
  if (Stored* s = find_by_id_locked(id)) return s->item;
  return Status(ENOENT, "no item " + std::string(id));
}

// Only conditions on top-level fields inside "$and", by equality or {"$in": [...]} (what the
// mount sends).
Result<ItemPage> FakeRemote::query(const json& dql) {
  DLFS_TRY(enter(RemoteCall::kQuery));
  std::vector<std::pair<std::string, json>> conds;
  if (auto f = dql.find("filter"); f != dql.end())
    if (auto a = f->find("$and"); a != f->end())
      for (auto& c : *a)
        for (auto& [k, v] : c.items()) conds.emplace_back(k, v);
  std::lock_guard lock(mu_);
  ItemPage page;
  for (auto& [path, s] : items_) {
    json doc = item_to_json(s.item);
    bool match = std::all_of(conds.begin(), conds.end(), [&](auto& c) {
      auto it = doc.find(c.first);
      if (it == doc.end()) return false;
      if (c.second.is_object() && c.second.contains("$in")) {
        const json& in = c.second["$in"];
        return in.is_array() && std::find(in.begin(), in.end(), *it) != in.end();
      }
      return *it == c.second;
    });
    if (match) page.items.push_back(s.item);
  }
  std::sort(page.items.begin(), page.items.end(), [](auto& a, auto& b) { return a.id < b.id; });
  page.total = page.items.size();
  return page;
}

Result<size_t> FakeRemote::read(const Item& item, uint64_t offset, std::span<char> out) {
  DLFS_TRY(enter(RemoteCall::kRead));
  {
    std::unique_lock lock(delay_mu_);
    if (read_delay_.count() > 0) {
      ++blocked_reads_;
      uint64_t epoch = delay_epoch_;
      delay_cv_.wait_for(lock, read_delay_, [&] { return delay_epoch_ != epoch; });
      --blocked_reads_;
    }
  }
  std::lock_guard lock(mu_);
  Stored* s = find_by_id_locked(item.id);
  if (!s) return Status(ENOENT, "no item " + item.id);
  if (offset >= s->content.size()) return size_t(0);
  size_t n = std::min<size_t>(out.size(), s->content.size() - offset);
  std::copy_n(s->content.data() + offset, n, out.data());
  return n;
}

Result<std::string> FakeRemote::thumbnail(const Item& item) {
  DLFS_TRY(enter(RemoteCall::kThumbnail));
  std::lock_guard lock(mu_);
  Stored* s = find_by_id_locked(item.id);
  if (!s || !s->thumbnail) return Status(ENOENT, "no thumbnail for " + item.filename);
  return *s->thumbnail;
}

// As the platform does (platform_write.cpp), in one step under the lock: skip keeps what is
// there unless it is the file replace_id (then deleted and made anew); an overwrite keeps the
// item (its id, its user metadata merged with the new) with a new binary and fresh system data.
Result<UploadResult> FakeRemote::upload(const std::string& local_file, std::string_view remote_path,
                                        const UploadOptions& options) {
  DLFS_TRY(enter(RemoteCall::kUpload));
  std::ifstream in(local_file, std::ios::binary);
  if (!in) return Status(ENOENT, "cannot read " + local_file);
  std::stringstream bytes;
  bytes << in.rdbuf();
  json meta = client_upload_metadata(options.metadata);  // as the platform takes it
  std::lock_guard lock(mu_);
  auto it = items_.find(remote_path);
  if (it != items_.end()) {
    Stored& s = it->second;
    if (s.item.is_dir()) return Status(EISDIR, std::string(remote_path) + " is a folder");
    if (options.mode == UploadMode::kSkip) {
      if (options.replace_id.empty() || s.item.id != options.replace_id) return UploadResult{s.item, UploadOp::kSkipped};
      items_.erase(it);
    } else {
      s.content = bytes.str();
      s.thumbnail.reset();
      PosixAttrs kept = kept_by_overwrite(s.item);
      s.item.metadata["system"] = json{{"size", s.content.size()}, {"originalname", s.item.name},
                                       {"mimetype", "application/octet-stream"}};
      set_posix_attrs(s.item, kept);
      merge_patch(s.item.metadata, meta);
      if (symlink_target(s.item)) s.item.system()["mimetype"] = kSymlinkMimetype;  // as the platform does
      if (options.description) s.item.description = options.description;
      s.item.updated_ms = next_time_locked();
      return UploadResult{s.item, UploadOp::kOverwritten};
    }
  }
  if (auto parent = items_.find(parent_path(remote_path)); parent != items_.end() && !parent->second.item.is_dir())
    return Status(ENOTDIR, parent->first + " is a file");
  if (items_quota_ && file_items_locked() + 1 > items_quota_)
    return Status(EDQUOT, "dataset '" + dataset_.name + "' is full (its quota is " + std::to_string(items_quota_) + " items)");
  (void)add_file_locked(remote_path, bytes.str(), nullptr);
  Stored& s = items_.at(std::string(remote_path));
  merge_patch(s.item.metadata, meta);
  if (symlink_target(s.item)) s.item.system()["mimetype"] = kSymlinkMimetype;
  if (options.description) s.item.description = options.description;
  return UploadResult{s.item, UploadOp::kCreated};
}

Result<Item> FakeRemote::patch(std::string_view id, const json& patch, bool system) {
  DLFS_TRY(enter(RemoteCall::kPatch));
  std::lock_guard lock(mu_);
  Stored* s = find_by_id_locked(id);
  if (!s) return Status(ENOENT, "no item " + std::string(id));
  if (auto m = patch.find("metadata"); m != patch.end()) {
    if (m->contains("system") && !system) return Status(EPERM, "metadata.system needs system=true");
    if (auto sys = m->find("system"); sys != m->end() && sys->is_object())
      if (auto posix = sys->find(kPosixKey); posix != sys->end()) DLFS_TRY(check_posix_json(*posix));
    merge_patch(s->item.metadata, *m);
  }
  if (auto d = patch.find("description"); d != patch.end())
    s->item.description = d->is_string() ? std::optional(d->get<std::string>()) : std::nullopt;
  s->item.updated_ms = next_time_locked();
  return s->item;
}

// As the platform's move_in_txn: to where it is succeeds; onto an item only if that is
// replace_id (a file by a file, an empty folder by a folder), deleted in the same step.
Result<Item> FakeRemote::move(std::string_view id, std::string_view new_path, std::string_view replace_id) {
  DLFS_TRY(enter(RemoteCall::kMove));
  std::lock_guard lock(mu_);
  Stored* s = find_by_id_locked(id);
  if (!s) return Status(ENOENT, "no item " + std::string(id));
  std::string old_path = s->item.filename;
  if (old_path == "/") return Status(EBUSY, "the root cannot be moved");
  if (old_path == new_path) return s->item;
  if (s->item.is_dir() && is_same_or_under(new_path, old_path))
    return Status(EINVAL, "cannot move a folder into itself");
  bool is_dir = s->item.is_dir();
  if (auto target = items_.find(new_path); target != items_.end()) {
    const Item& t = target->second.item;
    if (replace_id.empty() || t.id != replace_id) return Status(EEXIST, std::string(new_path) + " exists");
    if (t.is_dir() != is_dir) return Status(t.is_dir() ? EISDIR : ENOTDIR, std::string(new_path) + ": type differs");
    if (t.is_dir())
      for (auto& [path, other] : items_)
        if (path != new_path && is_same_or_under(path, new_path)) return Status(ENOTEMPTY, path + " is in the way");
    items_.erase(target);
  }
  if (auto parent = items_.find(parent_path(new_path)); parent != items_.end() && !parent->second.item.is_dir())
    return Status(ENOTDIR, parent->first + " is a file");
  std::vector<std::pair<std::string, Stored>> moved;
  for (auto it = items_.begin(); it != items_.end();) {
    if (is_same_or_under(it->first, old_path)) {
      Stored st = std::move(it->second);
      std::string p = std::string(new_path) + it->first.substr(old_path.size());
      st.item.set_path(p);
      moved.emplace_back(p, std::move(st));
      it = items_.erase(it);
    } else {
      ++it;
    }
  }
  ensure_parents_locked(new_path);
  for (auto& [p, st] : moved) items_[p] = std::move(st);
  Item& item = items_.at(std::string(new_path)).item;
  item.updated_ms = next_time_locked();
  return item;
}

Status FakeRemote::remove(std::string_view id) {
  DLFS_TRY(enter(RemoteCall::kRemove));
  std::string path;
  {
    std::lock_guard lock(mu_);
    Stored* s = find_by_id_locked(id);
    if (!s) return Status(ENOENT, "no item " + std::string(id));
    path = s->item.filename;
  }
  erase(path);
  return {};
}

uint64_t FakeRemote::file_items_locked() const {
  uint64_t n = 0;
  for (auto& [path, s] : items_) n += s.item.is_file() && !s.item.hidden;
  return n;
}

void FakeRemote::set_items_quota(uint64_t items) {
  std::lock_guard lock(mu_);
  items_quota_ = items;
}

Result<QuotaInfo> FakeRemote::quota() {
  std::lock_guard lock(mu_);
  QuotaInfo q;
  q.dataset_items = file_items_locked();
  q.dataset_quota = items_quota_;
  return q;
}

Result<Item> FakeRemote::make_dir(std::string_view path) {
  DLFS_TRY(enter(RemoteCall::kMakeDir));
  std::lock_guard lock(mu_);
  if (items_.count(path)) return Status(EEXIST, std::string(path) + " exists");
  std::string parent = parent_path(path);
  if (auto it = items_.find(parent); it != items_.end() && !it->second.item.is_dir())
    return Status(ENOTDIR, parent + " is a file");
  ensure_parents_locked(path);
  Item item = make_item(path, ItemType::kDir);
  items_[std::string(path)] = Stored{item, {}, {}};
  return item;
}

}  // namespace dlfs
