// Remote's default parts (remote/remote.h).
#include "remote/remote.h"

#include "core/json_util.h"

namespace dlfs {

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

}  // namespace dlfs
