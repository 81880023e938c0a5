// libFuzzer target: the decoders that read an item's bytes field by field (core/json_fields.h) —
// a catalogue record (MessagePack), an item's JSON text, a packed item, a listing page through
// dlfsd in either encoding — must never crash, hang or leak on any bytes, and must answer what the
// tree decoder (nlohmann's document, then item_from_json) answers for the same bytes: the same
// Item, or a failure. The first byte picks the decoder.
//
//   scripts/test.sh runs it briefly; by hand:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DDLFS_FUZZ=ON -DDLFS_TESTS=OFF
//   cmake --build build-fuzz --target item_decode_fuzz
//   build-fuzz/bin/item_decode_fuzz -max_total_time=60 NEW_DIR tests/fuzz/corpus/item_decode
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/item.h"
#include "core/item_pack.h"
#include "remote/item_page_sax.h"

using namespace dlfs;

namespace {

void same_as_the_tree(std::string_view bytes, JsonFormat format) {
  auto read = item_from_bytes(bytes, format);
  json doc = format == JsonFormat::kText ? json::parse(bytes, nullptr, false)
                                         : json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (doc.is_discarded()) {
    if (read) abort();  // bytes that are no document decoded to an item
    return;
  }
  // (a key given twice: the document keeps the last, the walk reads both; not compared)
  size_t fields = 0;
  (void)for_each_field(bytes, format, false, [&](std::string_view, size_t, json&) { return ++fields, Status(); });
  if (doc.is_object() && doc.size() != fields) return;
  auto tree = item_from_json(std::move(doc));
  if (bool(read) != bool(tree)) abort();
  if (read && !(*read == *tree)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: same_as_the_tree(bytes, JsonFormat::kMsgpack); break;
    case 1: same_as_the_tree(bytes, JsonFormat::kText); break;
    case 2: {
      auto item = unpack_item(bytes);
      // What unpacks packs back to what unpacks the same.
      if (item && !(*unpack_item(pack_item(*item)) == *item)) abort();
      break;
    }
    default: (void)parse_item_page(bytes, data[0] & 4 ? PageFormat::kMsgpack : PageFormat::kJson);
  }
  return 0;
}
