#include "remote/item_page_sax.h"

#include "core/clock.h"
#include "core/json_fields.h"

namespace dlfs {
namespace {

// nlohmann's SAX interface (json::sax_parse). Depth 1 is the page object, 2 its "items" array,
// 3 an item; deeper containers are an item's metadata (built as a tree) or values skipped.
class PageSax {
 public:
  using string_t = json::string_t;
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using binary_t = json::binary_t;

  ItemPage page;
  Status error;
  bool has_next = false;
  bool saw_items = false;

  bool null() { return value(json(nullptr)); }
  bool boolean(bool v) {
    if (skip_) return true;
    if (depth_ == 1 && key_ == "hasNextPage") has_next = v;
    if (depth_ == 3 && key_ == "hidden") item_.hidden = v;
    return value(json(v));
  }
  bool number_integer(number_integer_t v) { return value(json(v)); }
  bool number_unsigned(number_unsigned_t v) {
    if (skip_) return true;
    if (depth_ == 1 && key_ == "totalItemsCount") page.total = v;
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) { return value(json(v)); }
  bool binary(binary_t& v) { return value(json(std::move(v))); }
  bool string(string_t& v) {
    if (skip_) return true;
    if (tree_.building()) return value(json(std::move(v)));
    if (depth_ == 3) return item_string(v);
    return true;
  }

  bool start_object(std::size_t) { return start(false); }
  bool start_array(std::size_t) { return start(true); }
  bool end_object() { return end(); }
  bool end_array() { return end(); }
  bool key(string_t& k) {
    if (skip_) return true;
    if (tree_.building()) tree_.key(std::move(k));
    else key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t at, const std::string&, const nlohmann::detail::exception& e) {
    return fail("the server's page is not JSON (at byte " + std::to_string(at) + ": " + e.what() + ")");
  }

 private:
  // A container opens: the page, the items array, an item, the metadata tree or a part of it, or
  // something skipped whole.
  bool start(bool array) {
    if (skip_) {
      ++skip_;
      return true;
    }
    if (tree_.building() || (depth_ == 3 && key_ == "metadata" && !array)) {
      open(array ? json::array() : json::object());
    } else if (depth_ == 0) {
      if (array) return fail("the server answered a malformed page (not an object)");
    } else if (depth_ == 1 && key_ == "items") {
      if (!array) return fail("the server answered a malformed page (\"items\" is not an array)");
      saw_items = in_items_ = true;
    } else if (depth_ == 2 && in_items_) {
      if (array) return fail("the server answered a malformed item (not an object)");
      item_ = Item();
      item_.metadata = nullptr;  // (none yet: end_item makes sure of "system")
      type_ = "file";
    } else {
      skip_ = 1;  // (a value this decoder does not read)
      return true;
    }
    ++depth_;
    return true;
  }
  bool end() {
    if (skip_) {
      --skip_;
      return true;
    }
    --depth_;
    if (tree_.building()) {
      tree_.close();
      return true;
    }
    if (depth_ == 2 && in_items_) return end_item();
    if (depth_ == 1) in_items_ = false;
    return true;
  }

  bool fail(std::string message) {
    if (error) error = Status(EIO, std::move(message));
    return false;
  }

  // A value inside the metadata tree (elsewhere, one this decoder does not read).
  bool value(json v) {
    if (!skip_ && tree_.building()) tree_.value(std::move(v));
    return true;
  }
  void open(json container) {
    if (tree_.building()) tree_.open(std::move(container));
    else tree_.open_root(item_.metadata, std::move(container));
  }
  bool item_string(string_t& v) {
    if (key_ == "id") item_.id = std::move(v);
    else if (key_ == "filename") item_.filename = std::move(v);
    else if (key_ == "name") item_.name = std::move(v);
    else if (key_ == "dir") item_.dir = std::move(v);
    else if (key_ == "datasetId") item_.dataset_id = std::move(v);
    else if (key_ == "type") type_ = std::move(v);
    else if (key_ == "creator") item_.creator = std::move(v);
    else if (key_ == "updatedBy") item_.updated_by = std::move(v);
    else if (key_ == "description") item_.description = std::move(v);
    else if (key_ == "createdAt" || key_ == "updatedAt") {
      if (v.empty()) return true;
      Result<int64_t> t = parse_iso8601(v);
      if (!t) return fail("the server answered a malformed item: field '" + key_ + "': " + t.status().message());
      (key_ == "createdAt" ? item_.created_ms : item_.updated_ms) = *t;
    }
    return true;
  }

  bool end_item() {
    if (item_.id.empty() || item_.filename.empty())
      return fail("the server answered a malformed item: missing field '" + std::string(item_.id.empty() ? "id" : "filename") + "'");
    auto type = parse_item_type(type_);
    if (!type) return fail("the server answered a malformed item: " + type.status().message());
    item_.type = *type;
    if (!item_.metadata.is_object()) item_.metadata = json::object();
    if (auto s = item_.metadata.find("system"); s == item_.metadata.end() || !s->is_object())
      item_.metadata["system"] = json::object();
    page.items.push_back(std::move(item_));
    return true;
  }

  int depth_ = 0;
  int skip_ = 0;  // >0: inside a value skipped whole, this many containers deep
  bool in_items_ = false;
  std::string key_;          // the last key of the page or of the current item
  Item item_;
  std::string type_;
  JsonTreeBuilder tree_;  // the item's metadata, while it is read
};

}  // namespace

Result<ItemPage> parse_item_page(std::string_view body, PageFormat format) {
  PageSax sax;
  json::sax_parse(body.begin(), body.end(), &sax,
                  format == PageFormat::kMsgpack ? json::input_format_t::msgpack : json::input_format_t::json,
                  /*strict=*/true);
  if (!sax.error) return sax.error;
  if (!sax.saw_items) return Status(EIO, "the server answered a malformed page (no \"items\" array)");
  if (sax.has_next && !sax.page.items.empty()) sax.page.next_after = sax.page.items.back().id;
  return std::move(sax.page);
}

}  // namespace dlfs
