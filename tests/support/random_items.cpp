#include "support/random_items.h"

namespace dlfs::test {

json random_json_value(std::mt19937& rng, int depth) {
  switch (rng() % (depth > 2 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return bool(rng() % 2);
    case 2: return int64_t(rng()) - int64_t(1u << 31);
    case 3: return uint64_t(rng()) << 20;
    case 4: return double(rng() % 100000) / 7.0;
    case 5: {
      const char* texts[] = {"plain", "quote \" and \\ back", "tab\tnew\nline", "ünï €", "", "{\"id\": 1}"};
      return texts[rng() % 6];
    }
    case 6: {
      json a = json::array();
      for (int i = int(rng() % 4); i > 0; --i) a.push_back(random_json_value(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      const char* keys[] = {"id", "filename", "metadata", "system", "size", "a", "ü", "items"};
      for (int i = int(rng() % 4); i > 0; --i) o[keys[rng() % 8]] = random_json_value(rng, depth + 1);
      return o;
    }
  }
}

Item random_item(std::mt19937& rng, int i) {
  Item item;
  item.id = "6b1622cdbc55d37cd9dc" + std::to_string(1000 + i);
  item.dataset_id = "6b1622cbbc55d37cd9dc5d27";
  item.dir = i % 3 ? "/d" : "/";
  item.name = i % 5 ? "f" + std::to_string(i) + ".jpg" : "ü \"q\" " + std::to_string(i);
  item.filename = (item.dir == "/" ? "" : item.dir) + "/" + item.name;
  item.type = i % 7 == 0 ? ItemType::kDir : ItemType::kFile;
  item.hidden = i % 11 == 0;
  item.created_ms = 1704067200000 + i;
  item.updated_ms = 1704067300000 + 1000 * i;
  item.creator = "dev@local";
  item.updated_by = i % 2 ? "dev@local" : "";
  if (i % 4) item.description = "about " + std::to_string(i);
  item.metadata = json{{"system", {{"size", i * 100}, {"mimetype", "image/jpeg"}, {"etag", "e" + std::to_string(i)},
                                   {"posix", {{"mode", 0644}, {"mtimeNs", 1704067200000000000ll + i}}}}}};
  if (i % 2) item.metadata["user"] = random_json_value(rng, 1);
  if (i % 3) item.metadata["system"]["extra"] = random_json_value(rng, 1);
  return item;
}

}  // namespace dlfs::test
