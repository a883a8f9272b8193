#include "deepseek/security/hsm/pkcs11_uri.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// RFC 7512 p11-pchar / p11-qchar unreserved set, plus the characters both allow unescaped.
bool is_plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']' || c == '@' ||
         c == '!' || c == '$' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' ||
         c == ',' || c == '=' || c == '/' || c == '|';
}

unsigned long parse_ulong(const std::string& s, std::string_view what) {
  DS_CHECK(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos, "[pkcs11 uri] ",
           what, " must be a decimal number, got '", s, "'");
  try {
    return std::stoul(s);
  } catch (const std::exception&) {
    DS_THROW("[pkcs11 uri] ", what, " is out of range: '", s, "'");
  }
}

}  // namespace

std::string percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    DS_CHECK(i + 2 < s.size(), "[pkcs11 uri] truncated percent-escape in ", what);
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    DS_CHECK(hi >= 0 && lo >= 0, "[pkcs11 uri] bad percent-escape '%", s.substr(i + 1, 2), "' in ",
             what);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (is_plain(c) && c != '=' && c != '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

Pkcs11Uri Pkcs11Uri::parse(std::string_view uri) {
  constexpr std::string_view scheme = "pkcs11:";
  DS_CHECK(uri.size() >= scheme.size(), "[pkcs11 uri] not a pkcs11: URI: '", uri, "'");
  for (std::size_t i = 0; i < scheme.size(); ++i)
    DS_CHECK(std::tolower(static_cast<unsigned char>(uri[i])) == scheme[i],
             "[pkcs11 uri] not a pkcs11: URI (scheme must be 'pkcs11:'): '", uri, "'");
  std::string_view rest = uri.substr(scheme.size());
  DS_CHECK(rest.find('#') == std::string_view::npos,
           "[pkcs11 uri] fragments ('#') are not allowed in a pkcs11: URI");
  std::string_view path = rest, query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }

  Pkcs11Uri out;
  std::set<std::string> seen;
  auto take = [&](std::string_view attr, char sep, bool is_query) {
    if (attr.empty()) return;  // tolerate "pkcs11:" and a trailing separator
    auto eq = attr.find('=');
    DS_CHECK(eq != std::string_view::npos, "[pkcs11 uri] attribute '", attr,
             "' has no '=' (expected name=value)");
    std::string name(attr.substr(0, eq));
    DS_CHECK(!name.empty(), "[pkcs11 uri] empty attribute name in '", attr, "'");
    DS_CHECK(seen.insert(std::string(is_query ? "?" : "") + name).second,
             "[pkcs11 uri] attribute '", name, "' appears twice");
    std::string_view raw = attr.substr(eq + 1);
    (void)sep;
    if (name == "id") {
      std::string bytes = percent_decode(raw, "id");
      out.id = std::vector<std::uint8_t>(bytes.begin(), bytes.end());
      return;
    }
    std::string value = percent_decode(raw, name);
    if (!is_query) {
      if (name == "token")
        out.token = value;
      else if (name == "manufacturer")
        out.manufacturer = value;
      else if (name == "serial")
        out.serial = value;
      else if (name == "model")
        out.model = value;
      else if (name == "object")
        out.object = value;
      else if (name == "slot-id")
        out.slot_id = parse_ulong(value, "slot-id");
      else if (name == "type") {
        DS_CHECK(value == "public" || value == "private" || value == "cert" ||
                     value == "secret-key" || value == "data",
                 "[pkcs11 uri] type must be public, private, cert, secret-key or data, got '",
                 value, "'");
        out.type = value;
      } else if (name == "library-manufacturer" || name == "library-description" ||
                 name == "library-version" || name == "slot-description" ||
                 name == "slot-manufacturer") {
        out.vendor[name] = value;  // standard but not needed to select a key here
      } else if (name.rfind("x-", 0) == 0) {
        out.vendor[name] = value;
      } else {
        DS_THROW("[pkcs11 uri] unknown path attribute '", name, "'");
      }
    } else {
      if (name == "pin-value")
        out.pin_value = value;
      else if (name == "pin-source")
        out.pin_source = value;
      else if (name == "module-path")
        out.module_path = value;
      else if (name == "module-name")
        out.module_name = value;
      else if (name.rfind("x-", 0) == 0)
        out.vendor["?" + name] = value;
      else
        DS_THROW("[pkcs11 uri] unknown query attribute '", name, "'");
    }
  };
  for (auto a : split(path, ';')) take(a, ';', false);
  if (!query.empty())
    for (auto a : split(query, '&')) take(a, '&', true);
  DS_CHECK(!(out.pin_value && out.pin_source),
           "[pkcs11 uri] give either pin-value or pin-source, not both");
  return out;
}

std::string Pkcs11Uri::to_string(bool include_pin_value) const {
  std::string path, query;
  auto add = [](std::string& s, char sep, const std::string& name, const std::string& v) {
    if (!s.empty()) s.push_back(sep);
    s += name + "=" + percent_encode(v);
  };
  if (token) add(path, ';', "token", *token);
  if (manufacturer) add(path, ';', "manufacturer", *manufacturer);
  if (serial) add(path, ';', "serial", *serial);
  if (model) add(path, ';', "model", *model);
  if (slot_id) add(path, ';', "slot-id", std::to_string(*slot_id));
  if (object) add(path, ';', "object", *object);
  if (id) {
    std::string raw(id->begin(), id->end());
    if (!path.empty()) path.push_back(';');
    static const char* digits = "0123456789ABCDEF";
    path += "id=";
    for (unsigned char c : raw) {
      path.push_back('%');
      path.push_back(digits[c >> 4]);
      path.push_back(digits[c & 15]);
    }
  }
  if (type) add(path, ';', "type", *type);
  if (pin_value) {
    if (include_pin_value)
      add(query, '&', "pin-value", *pin_value);
    else
      query += std::string(query.empty() ? "" : "&") + "pin-value=***";
  }
  if (pin_source) add(query, '&', "pin-source", *pin_source);
  if (module_name) add(query, '&', "module-name", *module_name);
  if (module_path) add(query, '&', "module-path", *module_path);
  return "pkcs11:" + path + (query.empty() ? "" : "?" + query);
}

std::optional<std::string> Pkcs11Uri::resolve_pin() const {
  if (pin_value) return pin_value;
  if (pin_source) {
    std::string file = *pin_source;
    if (file.rfind("file:", 0) == 0) {
      file = file.substr(5);
      if (file.rfind("//", 0) == 0) file = file.substr(2);  // file:///path -> /path
    }
    DS_CHECK(!file.empty() && file[0] == '/',
             "[pkcs11 uri] pin-source must be an absolute file path or file: URI, got '",
             *pin_source, "'");
    std::ifstream in(file);
    DS_CHECK(in.good(), "[pkcs11 uri] cannot read pin-source file '", file, "'");
    std::string pin;
    std::getline(in, pin);
    while (!pin.empty() && (pin.back() == '\r' || pin.back() == ' ')) pin.pop_back();
    return pin;
  }
  if (const char* env = std::getenv("DEEPSEEK_PKCS11_PIN")) return std::string(env);
  return std::nullopt;
}

std::string Pkcs11Uri::resolve_module() const {
  if (module_path) return *module_path;
  if (const char* env = std::getenv("DEEPSEEK_PKCS11_MODULE"); env && *env) return env;
  if (module_name) return "/usr/lib/x86_64-linux-gnu/pkcs11/" + *module_name + ".so";
  return "/usr/lib/softhsm/libsofthsm2.so";
}

}  // namespace deepseek::security::hsm
