#include "core/requests.h"

#include <algorithm>
#include <cstdint>

namespace dlfs {

std::string_view to_string(UploadOp op) {
  switch (op) {
    case UploadOp::kCreated: return "created";
    case UploadOp::kOverwritten: return "overwrite";
    case UploadOp::kSkipped: return "skipped";
  }
  return "created";
}

std::optional<uint64_t> QuotaInfo::room() const {
  std::optional<uint64_t> room;
  auto left = [](uint64_t items, uint64_t quota) { return items >= quota ? 0 : quota - items; };
  if (dataset_quota) room = left(dataset_items, dataset_quota);
  if (store_quota) room = std::min(room.value_or(UINT64_MAX), left(store_items, store_quota));
  return room;
}

json QuotaInfo::to_json() const {
  auto opt = [](uint64_t q) { return q ? json(q) : json(nullptr); };
  auto r = room();
  return json{{"items", dataset_items}, {"itemsQuota", opt(dataset_quota)}, {"storeItems", store_items},
              {"storeItemsQuota", opt(store_quota)}, {"room", r ? json(*r) : json(nullptr)}};
}

Result<QuotaInfo> QuotaInfo::from_json(const json& doc) {
  if (!doc.is_object()) return Status(EINVAL, "a quota answer must be a JSON object");
  auto number = [&](const char* key) -> uint64_t {
    auto it = doc.find(key);
    return it != doc.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  QuotaInfo q;
  q.dataset_items = number("items");
  q.dataset_quota = number("itemsQuota");
  q.store_items = number("storeItems");
  q.store_quota = number("storeItemsQuota");
  return q;
}

}  // namespace dlfs
