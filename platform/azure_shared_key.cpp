#include "platform/azure_shared_key.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/ids.h"
#include "net/http_client.h"

namespace dlfs {
namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
      out += char(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

}  // namespace

std::string http_date(std::time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
           kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<int64_t> parse_http_date(std::string_view text) {
  // "Tue, 24 Nov 2026 15:52:44 GMT"; parsed by hand: strptime's %b follows the locale.
  std::string s(text);
  char wday[8] = {0}, mon[8] = {0};
  int d = 0, y = 0, h = 0, mi = 0, sec = 0;
  if (sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d GMT", wday, &d, mon, &y, &h, &mi, &sec) != 7)
    return Status(EINVAL, "not an HTTP date: '" + s + "'");
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (std::strcmp(mon, kMonths[i]) == 0) month = i;
  if (month < 0) return Status(EINVAL, "not an HTTP date (month): '" + s + "'");
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = month;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return int64_t(timegm(&tm)) * 1000;
}

Result<AzureSharedKey> AzureSharedKey::make(std::string account, std::string_view key_base64) {
  Result<std::string> key = base64_decode(key_base64);
  if (!key || key->empty())
    return Status(EINVAL, "the Azure account key of '" + account + "' is not base64 (the key as the portal shows it)");
  return AzureSharedKey(std::move(account), std::move(*key));
}

std::string AzureSharedKey::string_to_sign(std::string_view method, std::string_view url,
                                           const std::vector<std::string>& headers) const {
  std::map<std::string, std::string> standard;  // lower-cased name -> value
  std::map<std::string, std::string> ms;         // x-ms-*, sorted by name
  for (const std::string& h : headers) {
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lowered(trimmed(std::string_view(h).substr(0, colon)));
    std::string value(trimmed(std::string_view(h).substr(colon + 1)));
    (name.starts_with("x-ms-") ? ms : standard)[name] = value;
  }
  std::string out(method);
  out += '\n';
  for (const char* name : {"content-encoding", "content-language", "content-length", "content-md5", "content-type",
                           "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"}) {
    auto it = standard.find(name);
    // Since 2015-02-21 a zero Content-Length is signed as "".
    if (it != standard.end() && !(it->first == "content-length" && it->second == "0")) out += it->second;
    out += '\n';
  }
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";

  // The resource: "/ACCOUNT" + the URL's path as sent (escaped), then the query's parameters
  // sorted by name, values unescaped. Azurite's path-style URLs (/ACCOUNT/container/blob) thus
  // sign "/ACCOUNT/ACCOUNT/container/blob", as Microsoft's docs say of the emulator.
  size_t scheme = url.find("://");
  size_t path_start = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  std::string_view rest = path_start == std::string_view::npos ? std::string_view() : url.substr(path_start);
  size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  out += "/" + account_ + (path.empty() ? "/" : std::string(path));
  std::map<std::string, std::vector<std::string>> params;
  if (q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::string name = lowered(percent_decode(pair.substr(0, eq)));
      params[name].push_back(eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)));
    }
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string AzureSharedKey::blob_read_sas(std::string_view container, std::string_view blob, int64_t expiry_s,
                                          bool https_only) const {
  time_t t = time_t(expiry_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char expiry[32];
  strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string protocol = https_only ? "https" : "";
  std::string version(kAzureApiVersion);
  // The service SAS string to sign of versions 2020-12-06 and later: permissions, start, expiry,
  // resource, identifier, IP, protocol, version, resource type, snapshot time, encryption scope,
  // then the five response-header overrides (none here).
  std::string to_sign = "r\n\n" + std::string(expiry) + "\n/blob/" + account_ + "/" + std::string(container) + "/" +
                        std::string(blob) + "\n\n\n" + protocol + "\n" + version + "\nb\n\n\n\n\n\n\n";
  std::string sas = "se=" + url_escape(expiry) + "&sp=r";
  if (https_only) sas += "&spr=https";
  return sas + "&sr=b&sv=" + version + "&sig=" + url_escape(signature(to_sign));
}

std::string AzureSharedKey::signature(std::string_view string_to_sign) const {
  return base64_encode(hmac_sha256(key_, string_to_sign));
}

}  // namespace dlfs
