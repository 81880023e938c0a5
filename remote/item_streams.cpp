#include "remote/item_streams.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "net/http_client.h"

namespace dlfs {
namespace {

constexpr size_t kMaxHeaderLine = 64 * 1024;

// Hands a subset of the items to another reader: its indexes are mapped back to ours.
class SubsetSink : public ItemBytesSink {
 public:
  SubsetSink(ItemBytesSink& to, const std::vector<size_t>& indexes) : to_(to), indexes_(indexes) {}
  Status bytes(size_t index, uint64_t offset, std::string_view piece) override {
    return to_.bytes(indexes_[index], offset, piece);
  }
  void done(size_t index, Status status) override { to_.done(indexes_[index], std::move(status)); }

 private:
  ItemBytesSink& to_;
  const std::vector<size_t>& indexes_;
};

}  // namespace

bool ItemStreamsParser::feed(std::string_view data) {
  if (!error_) return false;
  while (!data.empty()) {
    if (!in_bytes_) {
      size_t nl = data.find('\n');
      header_.append(data.substr(0, std::min(nl, data.size())));
      if (header_.size() > kMaxHeaderLine) {
        error_ = Status(EIO, "the server's item streams answer has a header line of over 64 KiB");
        return false;
      }
      if (nl == std::string_view::npos) return true;
      data.remove_prefix(nl + 1);
      if (!start_item()) return false;
      header_.clear();
      continue;
    }
    size_t take = size_t(std::min<uint64_t>(left_, data.size()));
    if (item_status_) item_status_ = sink_.bytes(index_, offset_, data.substr(0, take));
    offset_ += take;
    left_ -= take;
    data.remove_prefix(take);
    if (left_ == 0) end_item();
  }
  return true;
}

bool ItemStreamsParser::start_item() {
  auto fail = [&](std::string why) {
    error_ = Status(EIO, "the server's item streams answer is not one", std::move(why));
    return false;
  };
  if (index_ >= items_.size()) return fail("more items than asked for");
  Result<json> doc = parse_json(header_);
  if (!doc || !doc->is_object()) return fail("a header line that is not a JSON object");
  const Item& item = items_[index_];
  auto id = doc->find("id");
  if (id == doc->end() || !id->is_string() || id->get_ref<const std::string&>() != item.id)
    return fail("item " + std::to_string(index_) + " is not '" + item.id + "'");
  if (auto status = doc->find("status"); status != doc->end()) {
    long code = status->is_number_integer() ? status->get<long>() : 500;
    if (code == 302 || code == 303 || code == 307) {
      redirected_.push_back(index_);  // (read from its bucket, by its own stream)
    } else {
      auto message = doc->find("message");
      std::string text = message != doc->end() && message->is_string() ? message->get<std::string>() : "";
      // (412: another version than the client's, ESTALE as a single read answers it)
      int err = code == 412 ? ESTALE : errno_for_http_status(code);
      sink_.done(index_, Status(err, text.empty() ? "HTTP " + std::to_string(code) : text));
    }
    ++index_;
    return true;
  }
  auto size = doc->find("size");
  if (size == doc->end() || !size->is_number_unsigned()) return fail("no size for '" + item.id + "'");
  in_bytes_ = true;
  offset_ = 0;
  left_ = size->get<uint64_t>();
  item_status_ = Status();
  if (left_ == 0) end_item();
  return true;
}

void ItemStreamsParser::end_item() {
  in_bytes_ = false;
  sink_.done(index_, std::move(item_status_));
  item_status_ = Status();
  ++index_;
}

std::vector<size_t> ItemStreamsParser::left() const {
  std::vector<size_t> out;
  for (size_t i = index_; i < items_.size(); ++i) out.push_back(i);
  out.insert(out.end(), redirected_.begin(), redirected_.end());
  return out;
}

void read_item_streams(HttpClient& http, std::span<const Item> items, ItemBytesSink& sink,
                       std::atomic<bool>& supported, const ReadOneByOne& one_by_one) {
  for (size_t start = 0; start < items.size(); start += kMaxItemStreams) {
    std::span<const Item> part = items.subspan(start, std::min(kMaxItemStreams, items.size() - start));
    std::vector<size_t> left;
    if (part.size() > 1 && supported.load()) {
      std::vector<size_t> indexes(part.size());
      for (size_t i = 0; i < part.size(); ++i) indexes[i] = start + i;
      SubsetSink to(sink, indexes);
      ItemStreamsParser parser(part, to);
      json asked = json::array();
      for (const Item& item : part) {
        json one = {{"id", item.id}};
        if (std::string etag = item.etag(); !etag.empty()) one["etag"] = etag;
        asked.push_back(std::move(one));
      }
      HttpRequest req;
      req.method = "POST";
      req.path = "/items/streams";
      req.content_type = "application/json";
      req.body = json{{"items", std::move(asked)}}.dump(-1, ' ', false, json::error_handler_t::replace);
      req.max_attempts = 1;  // (what did not come is read one by one)
      req.accept_codes = {404, 405, 501};
      req.on_body = [&](std::string_view data) { return parser.feed(data); };
      Result<HttpResponse> r = http.send(req);
      // A server without the call (a gate other than dlfsd: an error, or a page it answers 200
      // to a call it does not know): never asked again.
      if (r && (r->code >= 400 || r->header("content-type") != kItemStreamsType)) {
        if (supported.exchange(false))
          spdlog::info("the server reads no item streams in one answer (HTTP {}, {}): one request per item", r->code,
                       r->header("content-type"));
      } else if (!r) {
        // Not answered, or cut at the transport (a server gone or stalled): the items left are
        // not read one by one — each would wait out its own timeout, a reader of the last all
        // of them. They fail at once; their readers read them.
        spdlog::debug("item streams: {}", r.status().to_string());
        for (size_t i : parser.left()) sink.done(start + i, r.status());
        continue;
      } else if (!parser.error()) {
        spdlog::warn("{}: reading those items one by one", parser.error().to_string());
      }
      for (size_t i : parser.left()) left.push_back(start + i);
    } else {
      for (size_t i = 0; i < part.size(); ++i) left.push_back(start + i);
    }
    if (left.empty()) continue;
    std::vector<Item> rest;
    rest.reserve(left.size());
    for (size_t i : left) rest.push_back(items[i]);
    SubsetSink to(sink, left);
    one_by_one(rest, to);
  }
}

}  // namespace dlfs
