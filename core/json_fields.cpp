#include "core/json_fields.h"

namespace dlfs {

namespace {

// The SAX events of a document, gathered into one json per top-level field.
class FieldsSax final : public nlohmann::json_sax<json> {
 public:
  FieldsSax(bool array, const FieldFn& field) : array_(array), field_(field) {}

  Status status;      // why the walk stopped, when it did
  bool done = false;  // the top level closed

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return value(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override { return value(json(std::move(v))); }
  bool binary(binary_t& v) override { return value(json(std::move(v))); }
  bool start_object(std::size_t) override { return open(json::value_t::object); }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    if (tree_.building()) tree_.key(std::move(k));
    else key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    status = Status(EIO, "does not parse", e.what());
    return false;
  }

 private:
  bool open(json::value_t kind) {
    if (tree_.building()) {
      tree_.open(json(kind));
    } else if (top_open_) {
      tree_.open_root(field_value_, json(kind));
    } else if ((kind == json::value_t::array) != array_) {
      return not_the_top_level();
    } else {
      top_open_ = true;
    }
    return true;
  }

  bool close() {
    if (tree_.building()) return tree_.close() ? emit() : true;
    return done = true;
  }

  bool value(json&& v) {
    if (tree_.building()) {
      tree_.value(std::move(v));
      return true;
    }
    if (!top_open_) return not_the_top_level();
    field_value_ = std::move(v);
    return emit();
  }

  bool emit() {
    Status s = field_(array_ ? std::string_view() : std::string_view(key_), index_++, field_value_);
    if (s) return true;
    status = std::move(s);
    return false;
  }

  bool not_the_top_level() {
    status = Status(EINVAL, array_ ? "not a JSON array" : "not a JSON object");
    return false;
  }

  const bool array_;
  const FieldFn& field_;
  bool top_open_ = false;
  size_t index_ = 0;
  std::string key_;
  json field_value_;
  JsonTreeBuilder tree_;
};

}  // namespace

Status for_each_field(std::string_view bytes, JsonFormat format, bool array, const FieldFn& field) {
  FieldsSax sax(array, field);
  try {
    auto input = format == JsonFormat::kMsgpack ? json::input_format_t::msgpack : json::input_format_t::json;
    bool parsed = json::sax_parse(bytes.begin(), bytes.end(), &sax, input, true);
    if (parsed && sax.done) return {};
  } catch (const json::exception& e) {
    return Status(EIO, "does not parse", e.what());
  }
  return sax.status ? Status(EIO, "does not parse", "ends early") : sax.status;
}

}  // namespace dlfs
