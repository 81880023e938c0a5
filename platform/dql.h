// DQL, the platform's query language (API.md "DQL"): a request body is parsed and its filter
// compiled once, then evaluated against many documents (items or datasets in their API JSON).
// Where API.md is silent the semantics follow MongoDB's query language.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

struct DqlSortKey {
  std::string field;  // dotted path
  bool ascending = true;
  bool operator==(const DqlSortKey&) const = default;
};

namespace dql_detail {
struct Compiled;  // the filter tree and the sort paths, defined in dql.cpp
}

// True if `text` matches `pattern`, where each '*' in the pattern matches any run of characters
// (slashes included) and every other character matches itself. No escape for a literal '*'.
bool dql_wildcard_match(std::string_view text, std::string_view pattern);

// A folder listing, as mounts page through a folder (DqlQuery::listing).
struct DqlListing {
  std::string dir;
  std::optional<bool> hidden;       // {"hidden": b}, when given
  std::optional<std::string> after;  // the largest {"id": {"$gt": X}}, when given
  std::optional<std::string> until;  // the smallest {"id": {"$lte": X}}, when given (a range's end)
};

class DqlQuery {
 public:
  static constexpr int64_t kDefaultPageSize = 1000;
  static constexpr int64_t kMaxPageSize = 1000;
  static constexpr int kMaxFilterDepth = 64;  // nesting of $and/$or/nested fields

  // Parses a request body like {"filter":{...},"sort":{"id":"ascending"},"page":0,
  // "pageSize":1000,"resource":"items","update":{...},"delete":true}.
  // expected_resource: "items" or "datasets"; a body whose "resource" is present and differs is
  // EINVAL. A missing (or null) key takes its default: no filter matches everything. Keys this
  // engine doesn't know ("join", "context", "systemSpace", ...) are ignored.
  // Every malformed input is EINVAL with a message naming the problem.
  static Result<DqlQuery> parse(const json& body, std::string_view expected_resource = "items");

  // doc = an item (or dataset) in the API's JSON shape (item_to_json / dataset_to_json).
  bool matches(const json& doc) const;

  // Compares two docs by the sort keys, then by "id" ascending as the final tie-break; <0, 0, >0.
  // Per key: a missing field equals null and sorts first when ascending (last when descending);
  // values of different types order as null < numbers < strings < objects < arrays < booleans.
  // Multi-key sorts apply the keys in the order nlohmann::json keeps them: alphabetical, not
  // the order the client wrote them in.
  int compare(const json& a, const json& b) const;
  // a sorts strictly before b; for std::sort and friends.
  bool less(const json& a, const json& b) const { return compare(a, b) < 0; }

  // Planning hint: the value every match has at `field` (dotted path; an array field contains
  // it), when the top-level AND (top-level filter keys, and elements of a top-level "$and",
  // recursively) pins it by equality ({"f": v} or {"f": {"$eq": v}}) to a plain string without
  // '*'. Never from under "$or".
  std::optional<std::string> pinned_string(std::string_view field) const;
  // Planning hint: the ids every match is one of, when the top-level AND has {"id": {"$in":
  // [...]}} of plain strings without '*' (a mount asking after the items it uploaded).
  std::optional<std::vector<std::string>> pinned_ids() const;
  // The keyset cursor: the largest string X given as {"id": {"$gt": X}} in the top-level AND.
  std::optional<std::string> id_after() const;
  // The query when it is only a folder listing: the filter is {"dir": D} (D a plain string),
  // optionally {"hidden": true|false}, {"id": {"$gt": X}} and {"id": {"$lte": Y}} with X, Y
  // strings, all ANDed; the sort is id ascending; no update or delete. The path index alone
  // answers such a query.
  std::optional<DqlListing> listing() const;

  int64_t page() const { return page_; }
  size_t page_size() const { return page_size_; }
  const std::vector<DqlSortKey>& sort() const { return sort_; }  // default [{id, ascending}]
  const std::optional<json>& update() const { return update_; }  // bulk update object, if any
  bool is_delete() const { return delete_; }                      // "delete": true
  // False when the filter is absent or empty, i.e. matches() is always true.
  bool has_filter() const;

 private:
  DqlQuery() = default;

  std::shared_ptr<const dql_detail::Compiled> compiled_;  // immutable after parse(): copies share it
  std::vector<std::pair<std::string, std::string>> pinned_;  // (dotted field, value)
  std::optional<std::string> id_after_;
  int64_t page_ = 0;
  size_t page_size_ = size_t(kDefaultPageSize);
  std::vector<DqlSortKey> sort_;
  std::optional<json> update_;
  bool delete_ = false;
};

}  // namespace dlfs
