#include "core/json_util.h"

namespace dlfs {

void merge_patch(json& target, const json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      merge_patch(target[it.key()], it.value());
    }
  }
}

const json* find_dotted(const json& doc, std::string_view dotted) {
  const json* cur = &doc;
  size_t i = 0;
  while (true) {
    size_t dot = dotted.find('.', i);
    std::string key(dotted.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i));
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    i = dot + 1;
  }
}

void set_dotted(json& doc, std::string_view dotted, json value) {
  json* cur = &doc;
  size_t i = 0;
  while (true) {
    size_t dot = dotted.find('.', i);
    std::string key(dotted.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i));
    if (!cur->is_object()) *cur = json::object();
    if (dot == std::string_view::npos) {
      (*cur)[key] = std::move(value);
      return;
    }
    cur = &(*cur)[key];
    i = dot + 1;
  }
}

bool erase_dotted(json& doc, std::string_view dotted) {
  size_t dot = dotted.rfind('.');
  json* parent = &doc;
  std::string key(dotted);
  if (dot != std::string_view::npos) {
    parent = const_cast<json*>(find_dotted(doc, dotted.substr(0, dot)));
    key = std::string(dotted.substr(dot + 1));
  }
  if (!parent || !parent->is_object()) return false;
  return parent->erase(key) > 0;
}

std::string string_field(const json& doc, std::string_view key, std::string_view fallback) {
  if (!doc.is_object()) return std::string(fallback);
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

Result<json> parse_json(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Status(EINVAL, "invalid JSON", e.what());
  }
}

}  // namespace dlfs
