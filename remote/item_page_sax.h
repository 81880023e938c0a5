// A query page of items ({"items": [...], "totalItemsCount", "hasNextPage"}) decoded straight
// from its text with nlohmann's SAX parser: each item's fields go into the Item as they are read,
// and only its metadata is built as a tree. Before, the whole page was a tree first (1,000 items
// of ~40 nodes each, allocated, walked and freed): the mount's largest cost in a cold listing
// through dlfsd (perf, README "A folder of 100,000 entries").
#pragma once

#include <string_view>

#include "core/requests.h"
#include "core/result.h"

namespace dlfs {

// EIO, saying what, for a page that is not JSON, lacks its "items" array, or holds an item
// without an id or a filename, of an unknown type or with a bad time.
Result<ItemPage> parse_item_page(std::string_view body);

}  // namespace dlfs
