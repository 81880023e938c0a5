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

// How the page is encoded: JSON, or the same document in MessagePack (dlfsd answers a query in
// it to a client that accepts application/msgpack: strings with their lengths, numbers in binary,
// nothing to escape there or to lex here). The same SAX events either way.
enum class PageFormat { kJson, kMsgpack };

// EIO, saying what, for a page that is not JSON (MessagePack), lacks its "items" array, or holds
// an item without an id or a filename, of an unknown type or with a bad time.
Result<ItemPage> parse_item_page(std::string_view body, PageFormat format = PageFormat::kJson);

}  // namespace dlfs
