// Storage drivers, importing a bucket's objects as items, syncing a dataset with its bucket,
// cloning a dataset's items, and the commands (asynchronous jobs) syncs and clones run as.
#include <filesystem>

#include "core/paths.h"
#include "platform/commands.h"
#include "platform/driver.h"
#include "server/routes.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

// A local-folder driver serves the server's own files to whoever holds a token: only folders
// under --local-drivers may back one (symlinks resolved, so none leads out).
Status check_local_driver(const json& body, const ServerOptions& options) {
  if (!body.is_object() || body.value("type", json()) != "local") return {};
  if (options.local_drivers.empty())
    return Status(EACCES, "local-folder drivers are off on this server (dlfsd --local-drivers DIR allows folders under DIR)");
  auto folder = body.value("bucketName", json());
  if (!folder.is_string()) return {};  // the driver's own checks say what is missing
  std::error_code ec;
  auto real = std::filesystem::weakly_canonical(folder.get<std::string>(), ec).string();
  auto root = std::filesystem::weakly_canonical(options.local_drivers, ec).string();
  if (ec || !is_same_or_under(real, root))
    return Status(EACCES, "folder " + folder.get<std::string>() + " is not under " + options.local_drivers +
                              ", the only folders local drivers may use here");
  return {};
}

json driver_answer(const Driver& d, const std::string& base) {
  json doc = driver_to_json(d);  // never the credentials
  doc["url"] = base + "/drivers/" + d.id;
  return doc;
}

}  // namespace

void register_driver_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  const std::string ds_id = R"(/api/v1/datasets/([^/]+))";

  svr.Post("/api/v1/drivers", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    if (Status s = check_local_driver(*body, ctx.options); !s) return send_error(res, s);
    auto d = p.create_driver(*body, caller.email);
    if (!d) return send_error(res, d.status());
    send_json(res, driver_answer(*d, ApiContext::base_url(req)));
  }));
  svr.Get("/api/v1/drivers", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto all = p.list_drivers();
    if (!all) return send_error(res, all.status());
    json out = json::array();
    for (const Driver& d : *all) out.push_back(driver_answer(d, ApiContext::base_url(req)));
    send_json(res, out);
  }));
  svr.Get(R"(/api/v1/drivers/([^/]+))", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto d = p.get_driver(req.matches[1].str());
    if (!d) return send_error(res, d.status());
    send_json(res, driver_answer(*d, ApiContext::base_url(req)));
  }));

  svr.Post(ds_id + "/imports", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    auto items = p.import_items(ds->id, *body, caller.email);
    if (!items) return send_error(res, items.status());
    json out = json::array();
    for (const Item& item : *items) out.push_back(item_to_json(item, ApiContext::base_url(req)));
    send_json(res, out);
  }));
  svr.Post(ds_id + "/sync", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto command = p.start_sync(ds->id, caller.email);
    if (!command) return send_error(res, command.status());
    send_json(res, command_to_json(*command, ApiContext::base_url(req)));
  }));
  // Cloning (dtlpy's datasets.clone): {"name", "filter", "cloneDatasetParams": {"withMetadata",
  // "targetDirectory", "targetDatasetId"}}. The target is made (or checked) now; the items go in a
  // command, whose spec's returnedModelId names the target.
  svr.Post(ds_id + "/clone", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto ds = p.get_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    auto request = CloneRequest::from_api(*body);
    if (!request) return send_error(res, request.status());
    if (!request->target_dataset_id.empty()) {
      auto target = ctx.writable_dataset(request->target_dataset_id);
      if (!target) return send_error(res, target.status());
    }
    auto command = p.start_clone(ds->id, std::move(*request), caller.email);
    if (!command) return send_error(res, command.status());
    send_json(res, command_to_json(*command, ApiContext::base_url(req)));
  }));
  // Watched upstream sync: {"intervalSeconds": N} (0 or null: not watched). Answers the dataset.
  svr.Put(ds_id + "/watch", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto interval = ApiContext::count_body(req, "intervalSeconds",
                                           "{\"intervalSeconds\": N}, N a whole number of seconds (0: not watched)");
    if (!interval) return send_error(res, interval.status());
    Status set = p.set_sync_interval(ds->id, *interval);
    if (!set) return send_error(res, set);
    auto now = p.get_dataset(ds->id);
    if (!now) return send_error(res, now.status());
    send_json(res, dataset_to_json(*now, ApiContext::base_url(req)));
  }));
  svr.Get(R"(/api/v1/commands/([^/]+))", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto command = p.commands().get(req.matches[1].str());
    if (!command) return send_error(res, 404, "no command '" + req.matches[1].str() + "'");
    send_json(res, command_to_json(*command, ApiContext::base_url(req)));
  }));
}

}  // namespace dlfs
