// Remote's default parts (remote/remote.h).
#include "remote/remote.h"

#include <algorithm>
#include <vector>

#include "core/json_util.h"

namespace dlfs {
namespace {
constexpr uint64_t kReadItemsChunk = 1 << 20;  // read() at a time, by the default read_items
}  // namespace

Result<std::string> Remote::listing_id_at(std::string_view dir, uint64_t offset) {
  // '*' in a value is a wildcard to a server: no split point (walks stay correct, in one range).
  if (dir.find('*') != std::string_view::npos) return std::string();
  // list()'s query, one item at page `offset` (pages of one item: the page number is the offset).
  json dql = {{"filter", {{"$and", json::array({{{"dir", dir}}, {{"hidden", false}}})}}},
              {"sort", {{"id", "ascending"}}},
              {"page", offset},
              {"pageSize", 1},
              {"resource", "items"}};
  DLFS_ASSIGN(ItemPage page, query(dql));
  if (page.items.empty()) return std::string();
  return std::move(page.items.front().id);
}

void Remote::read_items(std::span<const Item> items, ItemBytesSink& sink) {
  std::vector<char> buf;
  int last_err = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    if (i > 0 && (last_err == ETIMEDOUT || last_err == EIO)) {
      // The remote did not answer the one before: the rest are not tried in turn (a reader
      // waiting for the last would wait out every timeout before it); readers read them.
      sink.done(i, Status(last_err, "not read: the remote failed on an earlier item of the batch"));
      continue;
    }
    buf.resize(size_t(std::min<uint64_t>(std::max<uint64_t>(item.size(), 1), kReadItemsChunk)));
    uint64_t done = 0;
    Status status;
    while (status && done < item.size()) {
      size_t want = size_t(std::min<uint64_t>(buf.size(), item.size() - done));
      Result<size_t> n = read(item, done, std::span<char>(buf.data(), want));
      if (!n) {
        status = n.status();
      } else if (*n == 0) {
        break;  // (shorter than its size: the sink tells)
      } else {
        status = sink.bytes(i, done, std::string_view(buf.data(), *n));
        done += *n;
      }
    }
    last_err = status.err();
    sink.done(i, std::move(status));
  }
}

}  // namespace dlfs
