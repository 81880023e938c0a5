// Storage drivers, importing a bucket's objects as items, syncing a dataset with its bucket, and
// the commands (asynchronous jobs) a sync runs as.
#include "platform/commands.h"
#include "platform/driver.h"
#include "server/routes.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

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
  svr.Get(R"(/api/v1/commands/([^/]+))", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto command = p.commands().get(req.matches[1].str());
    if (!command) return send_error(res, 404, "no command '" + req.matches[1].str() + "'");
    send_json(res, command_to_json(*command, ApiContext::base_url(req)));
  }));
}

}  // namespace dlfs
