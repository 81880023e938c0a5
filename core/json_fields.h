// A document's top-level fields one by one, without the document around them. An item is read
// tens of thousands of times in a listing (a catalogue record, a packed item, a page of JSON),
// and its fields go straight into an Item: building the top-level object first (a std::map node
// and a key string per field, then a lookup per field) was half the cost of decoding it. Each
// field's value is still a json (a container one is built whole: an item's metadata), parsed by
// nlohmann's SAX interface.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

enum class JsonFormat { kText, kMsgpack };

// One json value built from SAX events, as nlohmann's own DOM parser (internal to it) builds a
// document: a stack of the open containers, and in an object the member the next value goes to.
// (A container's element is only added once the elements before it are closed, so no pointer on
// the stack moves.)
class JsonTreeBuilder {
 public:
  // Whether a container is open (the value is not whole yet).
  bool building() const { return !open_.empty(); }
  // `root` becomes `container`, the open one.
  void open_root(json& root, json container) {
    root = std::move(container);
    open_.push_back(&root);
  }
  // A container inside the open one, under the last key given; it becomes the open one.
  void open(json container) { open_.push_back(put(std::move(container))); }
  void key(std::string k) { key_ = std::move(k); }
  void value(json v) { put(std::move(v)); }
  // Closes the innermost container; answers true when that was the root (the value is whole).
  bool close() {
    open_.pop_back();
    return open_.empty();
  }

 private:
  json* put(json v) {
    json& into = *open_.back();
    if (into.is_array()) {
      into.push_back(std::move(v));
      return &into.back();
    }
    return &(into[std::move(key_)] = std::move(v));
  }

  std::vector<json*> open_;
  std::string key_;
};

// Calls `field` for each member of the document's top-level object (`key` its name, `index` its
// position) or element of its top-level array (`key` empty), in order; the value may be moved
// from. EIO when the bytes do not parse; EINVAL when the top level is not an object (or, with
// `array`, an array); the first error `field` answers stops the walk and is answered.
using FieldFn = std::function<Status(std::string_view key, size_t index, json& value)>;
Status for_each_field(std::string_view bytes, JsonFormat format, bool array, const FieldFn& field);

}  // namespace dlfs
