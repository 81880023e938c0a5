// Making a link item: what `dlfs link` and `ln -s URL` in a mount do. A link item is made as
// every client makes one (API.md): its link JSON (make_link_json) uploaded, create-only, here
// under the name it is to have (cat.jpg, not cat.jpg.json: the platform tells a link JSON by its
// "shebang"), so it works the same against the embedded platform and a server.
#pragma once

#include <string>
#include <string_view>

#include "core/item.h"
#include "core/result.h"
#include "remote/remote.h"

namespace dlfs {

struct LinkItemRequest {
  std::string path;      // the item's path in the dataset
  std::string url;       // http or https (check_link_target)
  std::string mimetype;  // linkInfo.mimetype; "" for none (the name's then stands)
  std::string scratch_dir;  // where the JSON is written for its upload (removed after)
};

// EPERM for a target that is not an http(s) URL, EEXIST when something is at the path (nothing
// is changed then), else the remote's error.
Result<Item> make_link_item(Remote& remote, const LinkItemRequest& request);

}  // namespace dlfs
