// Datasets, item queries, the directory tree, and the small endpoints clients call at start.
#include <map>

#include "core/clock.h"
#include "core/paths.h"
#include "platform/dql.h"
#include "server/routes.h"

namespace dlfs {
namespace {

constexpr const char* kDefaultProjectId = "000000000000000000000001";  // Platform::create_dataset's

using Req = httplib::Request;
using Res = httplib::Response;

json project_json(const std::string& base) {
  return {{"id", kDefaultProjectId},
          {"name", "default"},
          {"url", base + "/projects/" + kDefaultProjectId},
          {"createdAt", format_iso8601(0)},
          {"creator", "dlfsd"},
          {"role", "owner"}};
}

// All folders of a dataset (hidden ones left out), as {"value": dirItem, "children": [...]}.
Result<json> directory_tree(Platform& platform, const std::string& dataset_id, const std::string& base) {
  std::map<std::string, json> nodes;  // path -> node; std::map: parents sort before children
  std::string after;
  for (;;) {
    json body = {{"filter", {{"$and", json::array({json{{"type", "dir"}}, json{{"hidden", false}}})}}},
                 {"sort", {{"id", "ascending"}}},
                 {"page", 0},
                 {"pageSize", DqlQuery::kMaxPageSize}};
    if (!after.empty()) body["filter"]["$and"].push_back(json{{"id", {{"$gt", after}}}});
    DLFS_ASSIGN(QueryOutcome out, platform.query(dataset_id, body));
    for (const Item& dir : out.page.items)
      nodes[dir.filename] = json{{"value", item_to_json(dir, base)}, {"children", json::array()}};
    if (!out.page.has_next()) break;
    after = out.page.next_after;
  }
  // Attach children to parents deepest first, so each subtree is complete when it moves.
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    if (it->first == "/") continue;
    auto parent = nodes.find(parent_path(it->first));
    if (parent != nodes.end()) parent->second["children"].push_back(std::move(it->second));
  }
  auto root = nodes.find("/");
  if (root == nodes.end()) return Status(EIO, "the dataset has no root folder");
  // Children were pushed in reverse path order; answer them in name order.
  std::function<void(json&)> order = [&](json& node) {
    auto& kids = node["children"];
    std::reverse(kids.begin(), kids.end());
    for (auto& k : kids) order(k);
  };
  order(root->second);
  return std::move(root->second);
}

}  // namespace

json paged_answer(json items, uint64_t total, size_t page_size, bool has_next) {
  uint64_t pages = page_size ? (total + page_size - 1) / page_size : 0;
  return {{"totalItemsCount", total}, {"totalPagesCount", pages}, {"hasNextPage", has_next}, {"items", std::move(items)}};
}

// paged_answer's document in MessagePack, around items already encoded (the catalogue's
// records). Every byte is nlohmann's: the page without items — an ordered object, so "items" comes
// last, an empty array — then the header of an array of the records' count (the encoding of as
// many nils, less the nils), then the records.
void send_record_page(httplib::Response& res, const RecordPage& page) {
  uint64_t pages = page.page_size ? (page.total + page.page_size - 1) / page.page_size : 0;
  nlohmann::ordered_json head = {{"totalItemsCount", page.total},
                                 {"totalPagesCount", pages},
                                 {"hasNextPage", page.has_next},
                                 {"items", nlohmann::ordered_json::array()}};
  std::string bytes;
  nlohmann::ordered_json::to_msgpack(head, bytes);
  bytes.pop_back();  // the empty array
  std::string header;
  json::to_msgpack(json::array_t(page.records.size(), nullptr), header);
  header.resize(header.size() - page.records.size());
  size_t size = bytes.size() + header.size();
  for (const std::string& r : page.records) size += r.size();
  bytes.reserve(size);
  bytes += header;
  for (const std::string& r : page.records) bytes += r;
  res.status = 200;
  res.set_content(std::move(bytes), "application/msgpack");
}

void register_dataset_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  const std::string ds_id = R"(/api/v1/datasets/([^/]+))";

  svr.Get("/api/v1/datasets", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto all = p.list_datasets();
    if (!all) return send_error(res, all.status());
    json out = json::array();
    for (const auto& ds : *all) out.push_back(dataset_to_json(ds, ApiContext::base_url(req)));
    send_json(res, out);
  }));

  svr.Post("/api/v1/datasets/query", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    auto q = DqlQuery::parse(*body, "datasets");
    if (!q) return send_error(res, q.status());
    auto all = p.list_datasets();
    if (!all) return send_error(res, all.status());
    std::vector<json> docs;
    for (const auto& ds : *all) {
      json doc = dataset_to_json(ds, ApiContext::base_url(req));
      if (q->matches(doc)) docs.push_back(std::move(doc));
    }
    std::sort(docs.begin(), docs.end(), [&](const json& a, const json& b) { return q->less(a, b); });
    size_t first = size_t(q->page()) * q->page_size();
    json page = json::array();
    for (size_t i = first; i < docs.size() && page.size() < q->page_size(); ++i) page.push_back(docs[i]);
    send_json(res, paged_answer(std::move(page), docs.size(), q->page_size(), first + q->page_size() < docs.size()));
  }));

  svr.Post("/api/v1/datasets", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    if (!body->is_object() || !body->contains("name") || !(*body)["name"].is_string())
      return send_error(res, 400, "a dataset needs a \"name\" (string)");
    std::string driver = body->value("driver", json()).is_string() ? (*body)["driver"].get<std::string>() : "";
    auto ds = p.create_dataset((*body)["name"].get<std::string>(), caller.email, driver);
    if (!ds) return send_error(res, ds.status());
    // dlfsd's own extension: {"readonly": true} makes a dataset that answers 403 to writes.
    if (auto ro = body->find("readonly"); ro != body->end() && ro->is_boolean() && ro->get<bool>()) {
      Status s = p.set_dataset_readonly(ds->id, true);
      if (!s) return send_error(res, s);
      ds->readonly = true;
    }
    send_json(res, dataset_to_json(*ds, ApiContext::base_url(req)));
  }));

  svr.Get(ds_id, ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto ds = p.get_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    send_json(res, dataset_to_json(*ds, ApiContext::base_url(req)));
  }));

  svr.Delete(ds_id, ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    Status s = p.delete_dataset(ds->id);
    if (!s) return send_error(res, s);
    send_json(res, json{{"message", "deleted"}});
  }));

  // dlfs's quota of items (core/requests.h QuotaInfo): read, and set per dataset; the store's
  // quota is the server's config (--items-quota).
  svr.Get(ds_id + "/quota", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto q = p.quota(req.matches[1].str());
    if (!q) return send_error(res, q.status());
    send_json(res, q->to_json());
  }));

  svr.Put(ds_id + "/quota", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto items = ApiContext::count_body(req, "items", "{\"items\": N} (or null for no quota)");
    if (!items) return send_error(res, items.status());
    Status s = p.set_dataset_quota(ds->id, *items);
    if (!s) return send_error(res, s);
    auto q = p.quota(ds->id);
    if (!q) return send_error(res, q.status());
    send_json(res, q->to_json());
  }));

  svr.Get(ds_id + "/directoryTree", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto tree = directory_tree(p, req.matches[1].str(), ApiContext::base_url(req));
    if (!tree) return send_error(res, tree.status());
    send_json(res, *tree);
  }));

  svr.Post(ds_id + "/query", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    std::string id = req.matches[1].str();
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    if (!body->is_object()) return send_error(res, 400, "a query must be a JSON object");
    bool writes = body->contains("update") || (body->contains("delete") && (*body)["delete"] == true);
    if (writes) {
      auto ds = ctx.writable_dataset(id);
      if (!ds) return send_error(res, ds.status());
    }
    // "urls": false (dlfs's extension, which mounts send): items without url, stream, thumbnail,
    // annotations and dataset — a third of a page's bytes.
    auto urls = body->find("urls");
    std::string base = urls != body->end() && urls->is_boolean() && !urls->get<bool>() ? "" : ApiContext::base_url(req);
    // dlfs's extension (dlfsd(8)): a client that accepts MessagePack — mounts, for their listings
    // — gets the same document in it: no text to escape here nor to lex there.
    const bool msgpack = req.get_header_value("Accept").find("application/msgpack") != std::string::npos;
    if (msgpack && base.empty() && !writes) {
      // A folder listing's items are stored as exactly that document: sent on as they are.
      auto records = p.listing_records(id, *body);
      if (!records) return send_error(res, records.status());
      if (*records) return send_record_page(res, **records);
    }
    auto out = p.query(id, *body, caller.email);
    if (!out) return send_error(res, out.status());
    json items = json::array();
    for (const Item& item : out->page.items) items.push_back(item_to_json(item, base));
    auto ps = body->find("pageSize");
    size_t page_size = ps != body->end() && ps->is_number_unsigned() ? ps->get<size_t>() : DqlQuery::kDefaultPageSize;
    json answer = paged_answer(std::move(items), out->page.total, page_size, out->page.has_next());
    if (writes) answer["affected"] = out->affected;
    if (msgpack) {
      std::string bytes;
      json::to_msgpack(answer, bytes);
      res.status = 200;
      return res.set_content(std::move(bytes), "application/msgpack");
    }
    send_json(res, answer);
  }));

  svr.Get("/api/v1/projects", ctx.wrap([](const Req& req, Res& res, const Caller&) {
    send_json(res, json::array({project_json(ApiContext::base_url(req))}));
  }));
  svr.Get(R"(/api/v1/projects/([^/]+))", ctx.wrap([](const Req& req, Res& res, const Caller&) {
    if (req.matches[1].str() != kDefaultProjectId)
      return send_error(res, 404, "no project '" + req.matches[1].str() + "'");
    send_json(res, project_json(ApiContext::base_url(req)));
  }));
  svr.Get("/api/v1/users/me", ctx.wrap([](const Req&, Res& res, const Caller& caller) {
    send_json(res, json{{"id", caller.id}, {"email", caller.email}, {"username", caller.email}});
  }));
  // Arrives form-encoded (version, email) from SDK clients before they log in.
  svr.Post("/api/v1/sdk/check", ctx.wrap([](const Req&, Res& res, const Caller&) {
    send_json(res, json{{"level", "debug"}, {"msg", ""}});
  }, /*auth=*/false));
}

}  // namespace dlfs
