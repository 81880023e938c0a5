// A randomized reference-model test: random sequences of upload / mkdir / move / delete / patch
// go to the platform and to a plain in-memory model of a tree; after every step the answers
// (errno) and the whole trees (paths, types, bytes, user metadata) must agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include <unistd.h>

#include "core/paths.h"
#include "platform/platform.h"

using namespace dlfs;
namespace fs = std::filesystem;

namespace {

struct Node {
  bool dir = false;
  std::string bytes;
  json user = json::object();
};

Node dir_node() {
  Node n;
  n.dir = true;
  return n;
}

// The model: a map from path to node; "/" is always there.
class Model {
 public:
  Model() { tree_["/"] = dir_node(); }

  int upload(const std::string& path, const std::string& bytes, bool overwrite, const json& user) {
    if (path == "/") return EISDIR;
    if (auto it = tree_.find(path); it != tree_.end()) {
      if (it->second.dir) return EISDIR;
      if (overwrite) {
        it->second.bytes = bytes;
        merge_patch(it->second.user, user);
      }
      return 0;
    }
    if (int err = make_parents(parent_path(path))) return err;
    Node n;
    n.bytes = bytes;
    merge_patch(n.user, user);
    tree_[path] = n;
    return 0;
  }

  int mkdir(const std::string& path) {
    if (tree_.count(path)) return EEXIST;
    return make_parents(path);
  }

  int move(const std::string& from, const std::string& to) {
    if (!tree_.count(from)) return ENOENT;
    if (from == "/") return EBUSY;
    if (from == to) return 0;
    if (tree_[from].dir && is_same_or_under(to, from)) return EINVAL;
    if (tree_.count(to)) return EEXIST;
    if (int err = make_parents(parent_path(to))) return err;
    std::map<std::string, Node> moved;
    for (auto it = tree_.begin(); it != tree_.end();) {
      if (is_same_or_under(it->first, from)) {
        moved[to + it->first.substr(from.size())] = it->second;
        it = tree_.erase(it);
      } else {
        ++it;
      }
    }
    tree_.merge(moved);
    return 0;
  }

  int remove(const std::string& path) {
    if (!tree_.count(path)) return ENOENT;
    if (path == "/") return EBUSY;
    std::erase_if(tree_, [&](const auto& kv) { return is_same_or_under(kv.first, path); });
    return 0;
  }

  int patch(const std::string& path, const json& user) {
    auto it = tree_.find(path);
    if (it == tree_.end()) return ENOENT;
    merge_patch(it->second.user, user);
    return 0;
  }

  const std::map<std::string, Node>& tree() const { return tree_; }

 private:
  int make_parents(const std::string& dir) {
    std::string cur = "/";
    for (const auto& part : split_path(dir)) {
      cur = join_path(cur, part);
      auto it = tree_.find(cur);
      if (it == tree_.end()) tree_[cur] = dir_node();
      else if (!it->second.dir) return ENOTDIR;
    }
    return 0;
  }
  std::map<std::string, Node> tree_;
};

class PlatformModelTest : public ::testing::TestWithParam<int> {};

std::map<std::string, Node> platform_tree(Platform& p, const std::string& ds) {
  std::map<std::string, Node> out;
  auto all = p.query(ds, {{"pageSize", 1000}});
  EXPECT_TRUE(all) << all.status().to_string();
  if (!all) return out;
  EXPECT_FALSE(all->page.has_next());
  for (const Item& item : all->page.items) {
    Node n;
    n.dir = item.is_dir();
    n.user = item.user();
    if (item.is_file()) {
      n.bytes.assign(item.size(), '\0');
      auto r = p.read(item, 0, std::span<char>(n.bytes.data(), n.bytes.size()));
      EXPECT_TRUE(r);
      EXPECT_EQ(item.size(), n.bytes.size());
    }
    EXPECT_EQ(item.dir, parent_path(item.filename));
    EXPECT_EQ(item.name, base_name(item.filename));
    out[item.filename] = n;
  }
  return out;
}

std::string describe(const std::map<std::string, Node>& tree) {
  std::string s;
  for (const auto& [path, n] : tree)
    s += path + (n.dir ? "/" : " [" + n.bytes + "] " + n.user.dump()) + "\n";
  return s;
}

}  // namespace

TEST_P(PlatformModelTest, RandomOperationsMatchTheModel) {
  fs::path dir = fs::temp_directory_path() / ("dlfs-model-" + std::to_string(getpid()) + "-" + std::to_string(GetParam()));
  fs::remove_all(dir);
  {
    auto opened = Platform::open(PlatformOptions{dir.string()});
    ASSERT_TRUE(opened);
    Platform& p = **opened;
    std::string ds = p.create_dataset("model", "dev@local")->id;
    Model model;
    std::mt19937 rng{uint32_t(GetParam())};
    auto pick = [&](int n) { return int(rng() % uint32_t(n)); };
    // A small name pool, so that operations collide often.
    auto random_path = [&] {
      static const char* names[] = {"a", "b", "c.jpg", "d d", "é"};
      std::string path;
      int depth = 1 + pick(3);
      for (int i = 0; i < depth; ++i) path += std::string("/") + names[pick(5)];
      return path;
    };
    auto existing_path = [&] {
      auto it = model.tree().begin();
      std::advance(it, pick(int(model.tree().size())));
      return it->first;
    };
    auto id_of = [&](const std::string& path) {
      auto item = p.get_item_by_path(ds, path);
      return item ? item->id : std::string("65f0c0ffee0000000000dead");
    };

    for (int step = 0; step < 400; ++step) {
      int op = pick(6);
      int expected = 0, got = 0;
      std::string what;
      if (op <= 1) {
        std::string path = random_path();
        std::string bytes = "v" + std::to_string(step);
        bool overwrite = pick(2);
        json user = json::object();
        if (pick(2)) user["k" + std::to_string(pick(3))] = step;
        UploadOptions opts;
        opts.mode = overwrite ? UploadMode::kOverwrite : UploadMode::kSkip;
        opts.metadata = {{"user", user}};
        what = "upload " + path + (overwrite ? " overwrite" : " skip");
        expected = model.upload(path, bytes, overwrite, user);
        got = p.upload_bytes(ds, bytes, path, opts).err();
      } else if (op == 2) {
        std::string path = random_path();
        what = "mkdir " + path;
        expected = model.mkdir(path);
        got = p.make_dir(ds, path, "u").err();
      } else if (op == 3) {
        std::string from = existing_path();
        std::string to = pick(4) == 0 ? existing_path() : random_path();
        what = "move " + from + " -> " + to;
        std::string id = id_of(from);
        expected = model.move(from, to);
        got = p.move_item(id, to, "u").err();
      } else if (op == 4) {
        std::string path = existing_path();
        what = "delete " + path;
        std::string id = id_of(path);
        expected = model.remove(path);
        got = p.delete_item(id).err();
      } else {
        std::string path = existing_path();
        json user = json::object();
        user["k" + std::to_string(pick(3))] = pick(3) ? json(step) : json(nullptr);
        what = "patch " + path + " " + user.dump();
        std::string id = id_of(path);
        expected = model.patch(path, user);
        got = p.patch_item(id, {{"metadata", {{"user", user}}}}, false, "u").err();
      }
      ASSERT_EQ(got, expected) << "step " << step << ": " << what;
      auto actual = platform_tree(p, ds);
      ASSERT_EQ(describe(actual), describe(model.tree())) << "step " << step << ": " << what;
    }
    size_t files = 0;
    for (const auto& [path, n] : model.tree()) files += !n.dir;
    EXPECT_EQ(p.get_dataset(ds)->items_count, files);
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PlatformModelTest, ::testing::Values(1, 2, 3, 4));
