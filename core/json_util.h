// JSON helpers shared by the platform, the remotes and the mount.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace dlfs {

using json = nlohmann::json;

// Applies a merge patch: objects merge recursively, `null` deletes the key, anything else
// (arrays included) replaces.
void merge_patch(json& target, const json& patch);

// The value at a dotted path ("metadata.user.camera"), or nullptr.
const json* find_dotted(const json& doc, std::string_view dotted);
// Sets the value at a dotted path, creating objects on the way (replacing non-objects).
void set_dotted(json& doc, std::string_view dotted, json value);
// Removes the value at a dotted path; true if something was removed.
bool erase_dotted(json& doc, std::string_view dotted);

// The string at doc[key]; `fallback` when doc is not an object, has no such key, or holds
// something else there (json::value() throws then: a field a user or a server can set to any
// type must never throw).
std::string string_field(const json& doc, std::string_view key, std::string_view fallback = {});

// Parses text as JSON, with the parse error as the Status message.
Result<json> parse_json(std::string_view text);

}  // namespace dlfs
