// A Remote that passes every call to another. Decorators (fault injection, delays) derive from
// it and override only the calls they change.
#pragma once

#include "remote/remote.h"

namespace dlfs {

class ForwardingRemote : public Remote {
 public:
  explicit ForwardingRemote(Remote& inner) : inner_(inner) {}

  const Dataset& dataset() const override { return inner_.dataset(); }
  bool server_away() const override { return inner_.server_away(); }
  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    return inner_.list_range(dir, after, until, page_size);
  }
  Result<std::string> listing_id_at(std::string_view dir, uint64_t offset) override {
    return inner_.listing_id_at(dir, offset);
  }
  Result<Item> get(std::string_view path) override { return inner_.get(path); }
  Result<Item> get_by_id(std::string_view id) override { return inner_.get_by_id(id); }
  Result<ItemPage> query(const json& dql) override { return inner_.query(dql); }
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override {
    return inner_.read(item, offset, out);
  }
  void read_items(std::span<const Item> items, ItemBytesSink& sink) override { inner_.read_items(items, sink); }
  Result<int> open_local(const Item& item) override { return inner_.open_local(item); }
  Result<std::string> thumbnail(const Item& item) override { return inner_.thumbnail(item); }
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    return inner_.upload(local_file, remote_path, options);
  }
  bool links_from(const std::string& dir) override { return inner_.links_from(dir); }
  Result<Item> patch(std::string_view id, const json& patch, bool system) override {
    return inner_.patch(id, patch, system);
  }
  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override {
    return inner_.move(id, new_path, replace_id);
  }
  Status remove(std::string_view id) override { return inner_.remove(id); }
  Result<Item> make_dir(std::string_view path) override { return inner_.make_dir(path); }
  Result<QuotaInfo> quota() override { return inner_.quota(); }

 protected:
  Remote& inner_;
};

}  // namespace dlfs
