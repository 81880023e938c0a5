#include "platform/dql.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <limits>

namespace dlfs {

namespace dql_detail {

enum class Op { kEq, kNe, kGt, kGte, kLt, kLte, kIn, kNin, kExists };

// One comparand of an equality-like operator; strings holding '*' are wildcard patterns.
struct Pattern {
  json value;
  bool wildcard = false;
};

// One compiled condition: a field (pre-split into its path) and one operator.
struct Cond {
  std::string field;              // dotted, as the hints report it
  std::vector<std::string> path;  // field split at '.', so docs aren't re-parsed
  Op op = Op::kEq;
  std::vector<Pattern> values;    // $eq/$ne: one; $in/$nin: the array; ranges: one bound
  bool exists = true;             // $exists
};

// AND: every cond and every child holds. OR: some child holds (conds unused).
struct Node {
  bool is_or = false;
  std::vector<Cond> conds;
  std::vector<Node> children;
};

struct Compiled {
  Node root;  // an AND; "$and" elements are flattened into it
  std::vector<std::vector<std::string>> sort_paths;
};

}  // namespace dql_detail

using dql_detail::Compiled;
using dql_detail::Cond;
using dql_detail::Node;
using dql_detail::Op;
using dql_detail::Pattern;

namespace {

Status invalid(const std::string& message) { return Status(EINVAL, "DQL: " + message); }

std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Splits a dotted field; empty names and empty segments ("a..b", ".a", "a.") are errors.
Result<std::vector<std::string>> split_field(const std::string& field) {
  if (field.empty()) return invalid("empty field name in filter or sort");
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = field.find('.', start);
    std::string part = field.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) return invalid("field " + squote(field) + " has an empty path segment");
    parts.push_back(std::move(part));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// Same lookup as find_dotted(), with the path split once at parse time.
const json* resolve(const json& doc, const std::vector<std::string>& path) {
  const json* cur = &doc;
  for (const auto& key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

int sign(int v) { return (v > 0) - (v < 0); }

// Numbers compare exactly when both are integers (int64 vs uint64 included), else as doubles.
int compare_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    bool ua = a.is_number_unsigned(), ub = b.is_number_unsigned();
    if (ua && ub) {
      auto x = a.get<uint64_t>(), y = b.get<uint64_t>();
      return (x > y) - (x < y);
    }
    if (!ua && !ub) {
      auto x = a.get<int64_t>(), y = b.get<int64_t>();
      return (x > y) - (x < y);
    }
    // One signed, one unsigned: a negative signed value is smaller; otherwise compare as uint64.
    int64_t s = ua ? b.get<int64_t>() : a.get<int64_t>();
    uint64_t u = ua ? a.get<uint64_t>() : b.get<uint64_t>();
    int c = s < 0 ? -1 : (uint64_t(s) > u) - (uint64_t(s) < u);  // signed vs unsigned
    return ua ? -c : c;
  }
  double x = a.get<double>(), y = b.get<double>();
  return (x > y) - (x < y);
}

// std::string::compare is char_traits<char>::compare: bytewise as unsigned char.
int compare_strings(const json& a, const json& b) {
  return sign(a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>()));
}

// Range comparison: only numbers with numbers, strings with strings, booleans with booleans.
std::optional<int> compare_same_kind(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b);
  if (a.is_string() && b.is_string()) return compare_strings(a, b);
  if (a.is_boolean() && b.is_boolean()) return int(a.get<bool>()) - int(b.get<bool>());
  return std::nullopt;
}

bool matches_one(const json& v, const Pattern& p) {
  if (p.wildcard) {
    return v.is_string() &&
           dql_wildcard_match(v.get_ref<const std::string&>(), p.value.get_ref<const std::string&>());
  }
  return v == p.value;  // nlohmann compares 3 and 3.0 as equal, objects/arrays deeply
}

// Mongo equality: null matches missing or null; an array field matches if it equals the value
// or any of its elements does.
bool eq_matches(const json* v, const Pattern& p) {
  if (!v) return p.value.is_null();
  if (matches_one(*v, p)) return true;
  if (v->is_array()) {
    for (const auto& e : *v)
      if (matches_one(e, p)) return true;
  }
  return false;
}

bool range_one(const json& v, Op op, const json& bound) {
  auto c = compare_same_kind(v, bound);
  if (!c) return false;
  switch (op) {
    case Op::kGt: return *c > 0;
    case Op::kGte: return *c >= 0;
    case Op::kLt: return *c < 0;
    case Op::kLte: return *c <= 0;
    default: return false;
  }
}

bool in_matches(const json* v, const std::vector<Pattern>& values) {
  for (const auto& p : values)
    if (eq_matches(v, p)) return true;
  return false;
}

bool cond_matches(const Cond& c, const json& doc) {
  const json* v = resolve(doc, c.path);
  switch (c.op) {
    case Op::kEq: return eq_matches(v, c.values[0]);
    case Op::kNe: return !eq_matches(v, c.values[0]);
    case Op::kIn: return in_matches(v, c.values);
    case Op::kNin: return !in_matches(v, c.values);
    case Op::kExists: return (v != nullptr) == c.exists;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      if (!v) return false;
      if (range_one(*v, c.op, c.values[0].value)) return true;
      if (v->is_array()) {
        for (const auto& e : *v)
          if (range_one(e, c.op, c.values[0].value)) return true;
      }
      return false;
  }
  return false;
}

bool node_matches(const Node& n, const json& doc) {
  if (n.is_or) {
    for (const auto& child : n.children)
      if (node_matches(child, doc)) return true;
    return false;
  }
  for (const auto& c : n.conds)
    if (!cond_matches(c, doc)) return false;
  for (const auto& child : n.children)
    if (!node_matches(child, doc)) return false;
  return true;
}

// Sort order across types (Mongo-like): missing = null < numbers < strings < objects < arrays
// < booleans.
int type_rank(const json* v) {
  if (!v || v->is_null()) return 0;
  if (v->is_number()) return 1;
  if (v->is_string()) return 2;
  if (v->is_object()) return 3;
  if (v->is_array()) return 4;
  if (v->is_boolean()) return 5;
  return 6;  // binary; never from JSON text
}

int sort_compare(const json* a, const json* b) {
  int ra = type_rank(a), rb = type_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0: return 0;
    case 1: return compare_numbers(*a, *b);
    case 2: return compare_strings(*a, *b);
    case 5: return int(a->get<bool>()) - int(b->get<bool>());
    default: return *a < *b ? -1 : (*b < *a ? 1 : 0);
  }
}

Pattern make_pattern(const json& value) {
  Pattern p{value};
  p.wildcard = value.is_string() && value.get_ref<const std::string&>().find('*') != std::string::npos;
  return p;
}

std::optional<Op> parse_op(std::string_view name) {
  static const std::pair<std::string_view, Op> kOps[] = {
      {"$eq", Op::kEq},   {"$ne", Op::kNe}, {"$gt", Op::kGt},   {"$gte", Op::kGte},    {"$lt", Op::kLt},
      {"$lte", Op::kLte}, {"$in", Op::kIn}, {"$nin", Op::kNin}, {"$exists", Op::kExists}};
  for (const auto& [n, op] : kOps)
    if (n == name) return op;
  return std::nullopt;
}

// Compiles filter objects into the tree, checking everything once.
class Compiler {
 public:
  // A filter object: its keys are ANDed into `out`.
  Status filter(const json& f, Node& out, int depth) {
    if (depth > DqlQuery::kMaxFilterDepth)
      return invalid("filter nests deeper than " + std::to_string(DqlQuery::kMaxFilterDepth) + " levels");
    for (auto it = f.begin(); it != f.end(); ++it) {
      const std::string& key = it.key();
      if (key == "$and") {
        DLFS_TRY(check_list(key, it.value()));
        // AND of ANDs: flatten, so the top-level AND (the planning hints) sees its elements.
        for (const auto& e : it.value()) DLFS_TRY(filter(e, out, depth + 1));
      } else if (key == "$or") {
        DLFS_TRY(check_list(key, it.value()));
        Node any;
        any.is_or = true;
        for (const auto& e : it.value()) {
          Node all;
          DLFS_TRY(filter(e, all, depth + 1));
          any.children.push_back(std::move(all));
        }
        out.children.push_back(std::move(any));
      } else if (!key.empty() && key[0] == '$') {
        return invalid("unknown filter key " + squote(key) + " (expected a field name, '$and' or '$or')");
      } else {
        DLFS_TRY(field(key, it.value(), out, depth + 1));
      }
    }
    return Status::ok();
  }

 private:
  static Status check_list(const std::string& key, const json& v) {
    if (!v.is_array() || v.empty()) return invalid(squote(key) + " needs a non-empty array of filter objects");
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_object())
        return invalid("element " + std::to_string(i) + " of " + squote(key) + " is not a filter object");
    }
    return Status::ok();
  }

  // A condition on `name`: a plain value (equality), an operator object, or nested fields.
  Status field(const std::string& name, const json& v, Node& out, int depth) {
    if (depth > DqlQuery::kMaxFilterDepth)
      return invalid("filter nests deeper than " + std::to_string(DqlQuery::kMaxFilterDepth) + " levels");
    DLFS_ASSIGN(auto path, split_field(name));
    if (!v.is_object() || v.empty()) return add(out, name, std::move(path), Op::kEq, v);
    const std::string* an_op = nullptr;
    const std::string* a_field = nullptr;
    for (auto it = v.begin(); it != v.end(); ++it) (it.key().starts_with('$') ? an_op : a_field) = &it.key();
    if (an_op && a_field) {
      return invalid("field " + squote(name) + " mixes operators and nested fields (" + squote(*an_op) + " and " +
                     squote(*a_field) + ")");
    }
    if (a_field) {  // nested form: {"metadata":{"user":{"camera":"cam-7"}}}
      for (auto it = v.begin(); it != v.end(); ++it) DLFS_TRY(field(name + "." + it.key(), it.value(), out, depth + 1));
      return Status::ok();
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto op = parse_op(it.key());
      if (!op) {
        return invalid("unknown operator " + squote(it.key()) + " on field " + squote(name) +
                       " (expected $eq $ne $gt $lt $gte $lte $in $nin $exists)");
      }
      DLFS_TRY(add(out, name, path, *op, it.value()));
    }
    return Status::ok();
  }

  static Status add(Node& out, const std::string& name, std::vector<std::string> path, Op op, const json& arg) {
    Cond c{name, std::move(path), op, {}, true};
    const std::string where = " on field " + squote(name);
    switch (op) {
      case Op::kEq:
      case Op::kNe:
        c.values.push_back(make_pattern(arg));
        break;
      case Op::kIn:
      case Op::kNin:
        if (!arg.is_array()) return invalid(std::string(op == Op::kIn ? "'$in'" : "'$nin'") + where + " needs an array");
        for (const auto& e : arg) c.values.push_back(make_pattern(e));
        break;
      case Op::kExists:
        if (!arg.is_boolean()) return invalid("'$exists'" + where + " needs true or false");
        c.exists = arg.get<bool>();
        break;
      case Op::kGt:
      case Op::kGte:
      case Op::kLt:
      case Op::kLte:
        if (!arg.is_number() && !arg.is_string() && !arg.is_boolean())
          return invalid("range operator" + where + " needs a number, string or boolean, not " + arg.type_name());
        c.values.push_back(Pattern{arg, false});  // ranges never use wildcards
        break;
    }
    out.conds.push_back(std::move(c));
    return Status::ok();
  }
};

Result<bool> parse_direction(const std::string& field, const json& v) {
  if (v.is_number_integer()) {
    if (v.get<int64_t>() == 1) return true;
    if (v.get<int64_t>() == -1) return false;
  } else if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (s == "ascending" || s == "asc") return true;
    if (s == "descending" || s == "desc") return false;
  }
  return invalid("sort direction for " + squote(field) + " must be \"ascending\", \"descending\", \"asc\", \"desc\", 1 or -1, not " +
                 v.dump());
}

// nlohmann keeps non-negative integers as uint64 and negative ones as int64.
bool int_in_range(const json& v, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    return x <= uint64_t(hi) && (lo <= 0 || x >= uint64_t(lo));
  }
  int64_t x = v.get<int64_t>();
  return x >= lo && x <= hi;
}

// Collects the planning hints from the top-level AND (the root's own conds).
void collect_hints(const Node& root, std::vector<std::pair<std::string, std::string>>& pinned,
                   std::optional<std::string>& id_after) {
  for (const auto& c : root.conds) {
    if (c.op == Op::kEq && c.values[0].value.is_string() && !c.values[0].wildcard) {
      pinned.emplace_back(c.field, c.values[0].value.get<std::string>());
    } else if (c.op == Op::kGt && c.field == "id" && c.values[0].value.is_string()) {
      const auto& x = c.values[0].value.get_ref<const std::string&>();
      if (!id_after || x > *id_after) id_after = x;
    }
  }
}

}  // namespace

bool dql_wildcard_match(std::string_view text, std::string_view pattern) {
  // Greedy with backtracking to the last '*': linear in practice, O(n*m) worst case.
  size_t t = 0, p = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<DqlQuery> DqlQuery::parse(const json& body, std::string_view expected_resource) {
  if (!body.is_object()) return invalid("the query body must be a JSON object, not " + std::string(body.type_name()));
  auto get = [&](const char* key) -> const json* {
    auto it = body.find(key);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  };

  if (const json* r = get("resource")) {
    if (!r->is_string()) return invalid("'resource' must be a string");
    if (r->get_ref<const std::string&>() != expected_resource) {
      return invalid("'resource' is " + squote(r->get<std::string>()) + " but this endpoint queries " +
                     squote(expected_resource));
    }
  }

  DqlQuery q;
  auto compiled = std::make_shared<Compiled>();
  if (const json* f = get("filter")) {
    if (!f->is_object()) return invalid("'filter' must be an object, not " + std::string(f->type_name()));
    DLFS_TRY(Compiler().filter(*f, compiled->root, 0));
  }

  if (const json* s = get("sort")) {
    if (!s->is_object()) return invalid("'sort' must be an object of field: direction, e.g. {\"id\":\"ascending\"}");
    for (auto it = s->begin(); it != s->end(); ++it) {
      DLFS_ASSIGN(auto path, split_field(it.key()));
      DLFS_ASSIGN(bool asc, parse_direction(it.key(), it.value()));
      q.sort_.push_back({it.key(), asc});
      compiled->sort_paths.push_back(std::move(path));
    }
  }
  if (q.sort_.empty()) {
    q.sort_.push_back({"id", true});
    compiled->sort_paths.push_back({"id"});
  }

  if (const json* p = get("page")) {
    if (!int_in_range(*p, 0, std::numeric_limits<int64_t>::max()))
      return invalid("'page' must be an integer >= 0, not " + p->dump());
    q.page_ = p->get<int64_t>();
  }
  if (const json* ps = get("pageSize")) {
    if (!int_in_range(*ps, 1, kMaxPageSize))
      return invalid("'pageSize' must be an integer from 1 to " + std::to_string(kMaxPageSize) + ", not " + ps->dump());
    q.page_size_ = ps->get<size_t>();
  }

  if (const json* u = get("update")) {
    if (!u->is_object()) return invalid("'update' must be an object, not " + std::string(u->type_name()));
    q.update_ = *u;
  }
  if (const json* d = get("delete")) {
    if (!d->is_boolean()) return invalid("'delete' must be true or false, not " + d->dump());
    q.delete_ = d->get<bool>();
  }
  if (q.delete_ && q.update_) return invalid("a query can't both 'update' and 'delete'");

  collect_hints(compiled->root, q.pinned_, q.id_after_);
  q.compiled_ = std::move(compiled);
  return q;
}

bool DqlQuery::matches(const json& doc) const { return node_matches(compiled_->root, doc); }

bool DqlQuery::has_filter() const {
  return !compiled_->root.conds.empty() || !compiled_->root.children.empty();
}

int DqlQuery::compare(const json& a, const json& b) const {
  for (size_t i = 0; i < sort_.size(); ++i) {
    const auto& path = compiled_->sort_paths[i];
    int c = sort_compare(resolve(a, path), resolve(b, path));
    if (c != 0) return sort_[i].ascending ? c : -c;
  }
  static const std::vector<std::string> kId{"id"};
  return sort_compare(resolve(a, kId), resolve(b, kId));
}

std::optional<std::string> DqlQuery::pinned_string(std::string_view field) const {
  for (const auto& [f, v] : pinned_)
    if (f == field) return v;
  return std::nullopt;
}

std::optional<std::vector<std::string>> DqlQuery::pinned_ids() const {
  for (const auto& c : compiled_->root.conds) {
    if (c.op != Op::kIn || c.field != "id") continue;
    std::vector<std::string> ids;
    for (const Pattern& p : c.values) {
      if (!p.value.is_string() || p.wildcard) return std::nullopt;
      ids.push_back(p.value.get<std::string>());
    }
    return ids;
  }
  return std::nullopt;
}

std::optional<std::string> DqlQuery::id_after() const { return id_after_; }

std::optional<DqlListing> DqlQuery::listing() const {
  const Node& root = compiled_->root;
  if (update_ || delete_ || !root.children.empty()) return std::nullopt;
  if (sort_ != std::vector<DqlSortKey>{{"id", true}}) return std::nullopt;
  std::optional<std::string> dir;
  DqlListing l;
  for (const auto& c : root.conds) {
    if (c.op != Op::kEq && c.op != Op::kGt && c.op != Op::kLte) return std::nullopt;
    const Pattern& p = c.values[0];
    if (c.op == Op::kEq && c.field == "dir" && !dir && p.value.is_string() && !p.wildcard) {
      dir = p.value.get<std::string>();
    } else if (c.op == Op::kEq && c.field == "hidden" && !l.hidden && p.value.is_boolean()) {
      l.hidden = p.value.get<bool>();
    } else if (c.op == Op::kLte && c.field == "id" && p.value.is_string()) {
      const std::string& until = p.value.get_ref<const std::string&>();
      if (!l.until || until < *l.until) l.until = until;
    } else if (c.op != Op::kGt || c.field != "id" || !p.value.is_string()) {
      return std::nullopt;  // (a string "id" $gt is the cursor, id_after_)
    }
  }
  if (!dir) return std::nullopt;
  l.dir = std::move(*dir);
  l.after = id_after_;
  return l;
}

}  // namespace dlfs
