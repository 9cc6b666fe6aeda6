#include "bundle.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>

#include "tipline/storage/database.h"
#include "tipline/storage/store.h"

namespace tipline::server::bundle {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::sys_days;

constexpr std::string_view kCommentPrefix = "tipline-bundle version ";
constexpr std::size_t kMaxIdLength = 64;
// Signature and public key files are a few short lines; anything much longer is neither.
constexpr std::size_t kMaxKeyFileBytes = std::size_t{16} * 1024;

tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

tl::unexpected<Error> malformed(std::string message) {
  return fail(Errc::malformed, std::move(message));
}

// JSON text for a name or value taken from the bundle, quoted and escaped.
std::string json_text(std::string_view text) { return json::serialize(json::string(text)); }

std::string key_id_text(std::uint64_t key_id) {
  std::array<char, 17> text{};
  std::snprintf(text.data(), text.size(), "%016" PRIX64, key_id);
  return text.data();
}

// Exactly YYYY-MM-DD, a real calendar date.
std::optional<sys_days> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [text](std::size_t start, std::size_t length) -> std::optional<unsigned> {
    unsigned value = 0;
    for (const char c : text.substr(start, length)) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value;
  };
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  if (!year || !month || !day) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(*month), std::chrono::day(*day)};
  if (!date.ok()) return std::nullopt;
  return sys_days(date);
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (const char c : id) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

// Refuses keys outside `allowed` and requires every one of them, naming `where` they are.
tl::expected<void, Error> check_keys(const json::object& object,
                                     std::initializer_list<std::string_view> allowed,
                                     const std::string& where) {
  for (const auto& entry : object) {
    if (std::find(allowed.begin(), allowed.end(), entry.key()) == allowed.end()) {
      return malformed(where + " has the unknown key " + json_text(entry.key()));
    }
  }
  for (const std::string_view key : allowed) {
    if (!object.contains(key)) return malformed(where + " lacks the key " + json_text(key));
  }
  return {};
}

tl::expected<sys_days, Error> date_at(const json::object& object, std::string_view key) {
  const json::string* text = object.at(key).if_string();
  const std::optional<sys_days> day =
      text != nullptr ? parse_date(*text) : std::optional<sys_days>();
  if (!day) {
    return malformed(json_text(key) + " must be a date written YYYY-MM-DD, not " +
                     json::serialize(object.at(key)));
  }
  return *day;
}

tl::expected<std::vector<Recipient>, Error> parse_recipients(const json::value& value) {
  const json::array* array = value.if_array();
  if (array == nullptr) return malformed("\"recipients\" must be an array");
  if (array->empty()) return malformed("\"recipients\" is empty: a bundle needs a recipient");
  if (array->size() > kMaxRecipients) {
    return malformed("\"recipients\" has " + std::to_string(array->size()) +
                     " entries, more than the " + std::to_string(kMaxRecipients) + " allowed");
  }
  std::vector<Recipient> recipients;
  std::set<std::string, std::less<>> ids;
  std::set<std::array<std::uint8_t, 32>> keys;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string where = "recipient " + std::to_string(i + 1);
    const json::object* entry = (*array)[i].if_object();
    if (entry == nullptr) return malformed(where + " must be an object with \"id\" and \"age\"");
    if (auto keys_ok = check_keys(*entry, {"id", "age"}, where); !keys_ok) {
      return tl::unexpected(keys_ok.error());
    }
    const json::string* id = entry->at("id").if_string();
    if (id == nullptr || !valid_id(*id)) {
      return malformed(where + ": \"id\" must be 1 to 64 of A-Z a-z 0-9 . _ -, not " +
                       json::serialize(entry->at("id")));
    }
    if (!ids.emplace(*id).second) {
      return malformed("the recipient id " + json_text(*id) + " repeats");
    }
    const json::string* age = entry->at("age").if_string();
    if (age == nullptr) {
      return malformed("recipient " + json_text(*id) + ": \"age\" must be a string");
    }
    auto parsed = crypto::x25519::Recipient::parse(*age);
    if (!parsed) {
      return malformed("recipient " + json_text(*id) + ": \"age\" is not an age X25519 recipient " +
                       "(age1...): " + parsed.error().message);
    }
    if (!keys.insert(parsed->bytes()).second) {
      return malformed("recipient " + json_text(*id) + " repeats the key of an earlier recipient");
    }
    recipients.push_back({std::string(*id), *parsed});
  }
  return recipients;
}

// The contents of bundle bytes, which the caller has verified or read from the store.
tl::expected<Bundle, Error> parse_contents(std::string_view bytes) {
  std::error_code ec;
  const json::value document = json::parse(json::string_view(bytes.data(), bytes.size()), ec);
  if (ec) return malformed("not JSON: " + ec.message());
  const json::object* object = document.if_object();
  if (object == nullptr) return malformed("not a JSON object");
  if (auto keys_ok = check_keys(*object, {"format", "version", "issued", "expires", "recipients"},
                                "the bundle");
      !keys_ok) {
    return tl::unexpected(keys_ok.error());
  }
  const json::string* format = object->at("format").if_string();
  if (format == nullptr || *format != kFormat) {
    return malformed("\"format\" must be " + json_text(kFormat) + ", not " +
                     json::serialize(object->at("format")));
  }
  Bundle bundle;
  const std::int64_t* version = object->at("version").if_int64();
  if (version == nullptr || *version <= 0) {
    return malformed("\"version\" must be a positive integer, not " +
                     json::serialize(object->at("version")));
  }
  bundle.version = *version;
  auto issued = date_at(*object, "issued");
  if (!issued) return tl::unexpected(issued.error());
  auto expires = date_at(*object, "expires");
  if (!expires) return tl::unexpected(expires.error());
  if (*expires <= *issued) {
    return malformed("\"expires\" (" + date_text(*expires) + ") must be after \"issued\" (" +
                     date_text(*issued) + ")");
  }
  bundle.issued = *issued;
  bundle.expires = *expires;
  auto recipients = parse_recipients(object->at("recipients"));
  if (!recipients) return tl::unexpected(recipients.error());
  bundle.recipients = std::move(*recipients);
  bundle.bytes = bytes;
  return bundle;
}

struct Stored {
  std::string bytes;
  std::string signature_text;
};

tl::expected<std::optional<Stored>, storage::Error> latest(storage::Database& db) {
  auto statement =
      db.prepare("SELECT bytes, signature FROM bundles ORDER BY version DESC LIMIT 1;");
  if (!statement) return tl::unexpected(statement.error());
  auto row = statement->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  const auto bytes = statement->bytes(0);
  return Stored{{reinterpret_cast<const char*>(bytes.data()), bytes.size()}, statement->text(1)};
}

tl::expected<std::optional<Bundle>, Error> parse_stored(
    tl::expected<std::optional<Stored>, storage::Error> stored) {
  if (!stored) return fail(Errc::database, stored.error().message);
  if (!*stored) return std::nullopt;
  auto bundle = parse_contents((*stored)->bytes);
  if (!bundle) {
    return fail(Errc::database, "the installed bundle cannot be read: " + bundle.error().message);
  }
  bundle->signature_text = std::move((*stored)->signature_text);
  return std::move(*bundle);
}

// The file's bytes, refused when longer than `limit`.
tl::expected<std::string, Error> read_file(const fs::path& file, std::size_t limit,
                                           std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::io, file.string() + ": cannot read: " + std::strerror(errno));
  std::string bytes(limit + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad()) return fail(Errc::io, file.string() + ": cannot read: " + std::strerror(errno));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (bytes.size() > limit) {
    return malformed(file.string() + ": larger than " + std::to_string(limit) + " bytes: not a " +
                     std::string(what));
  }
  return bytes;
}

tl::expected<crypto::minisign::PublicKey, Error> read_root_key(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return fail(Errc::root_key, "no organisation root public key at " + file.string() +
                                    ": copy organisation-root.pub there");
  }
  auto text = read_file(file, kMaxKeyFileBytes, "minisign public key");
  if (!text) return fail(Errc::root_key, text.error().message);
  auto key = crypto::minisign::PublicKey::parse(*text);
  if (!key) {
    return fail(Errc::root_key,
                file.string() + ": not a minisign public key: " + key.error().message);
  }
  return *key;
}

void print(std::ostream& out, const Bundle& bundle, sys_days today) {
  out << "Recipient bundle version " << bundle.version << ", issued " << date_text(bundle.issued)
      << ", expires " << date_text(bundle.expires)
      << (expired(bundle, today) ? " (EXPIRED: install a newer one)" : "") << '\n'
      << "Recipients (" << bundle.recipients.size() << "):\n";
  for (const auto& recipient : bundle.recipients) {
    out << "  " << recipient.id << "  " << recipient.age.to_string() << '\n';
  }
}

sys_days day_of(std::int64_t seconds) {
  return std::chrono::floor<std::chrono::days>(
      std::chrono::sys_seconds(std::chrono::seconds(seconds)));
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

tl::expected<crypto::Secret, Error> database_key(const config::Config& config) {
  auto key = storage::read_key_file(config.database_key_file);
  if (!key) return fail(Errc::database, key.error().message);
  return std::move(*key);
}

}  // namespace

std::string trusted_comment(std::int64_t version) {
  return std::string(kCommentPrefix) + std::to_string(version);
}

tl::expected<Bundle, Error> parse_and_verify(std::string_view bytes,
                                             std::string_view signature_file_text,
                                             const crypto::minisign::PublicKey& root) {
  if (bytes.size() > kMaxBytes) {
    return malformed("larger than " + std::to_string(kMaxBytes) + " bytes: not a bundle");
  }
  auto signature = crypto::minisign::Signature::parse(signature_file_text);
  if (!signature) {
    return fail(Errc::signature, "not a minisign signature file: " + signature.error().message);
  }
  auto comment =
      root.verify({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, *signature);
  if (!comment) {
    switch (comment.error().code) {
      case crypto::Errc::key_mismatch:
        return fail(Errc::signature, "signed by the key " + key_id_text(signature->key_id()) +
                                         ", not by the organisation root key " +
                                         key_id_text(root.key_id()) +
                                         " pinned in the "
                                         "configuration");
      case crypto::Errc::bad_trusted_comment:
        return fail(Errc::signature, "the signature's trusted comment was altered");
      default:
        return fail(Errc::signature,
                    "the signature does not match the bundle: it was altered after signing, or "
                    "signed by another key");
    }
  }
  auto bundle = parse_contents(bytes);
  if (!bundle) return tl::unexpected(bundle.error());
  const std::string expected = trusted_comment(bundle->version);
  if (*comment != expected) {
    return fail(Errc::signature, "the signature's trusted comment is " + json_text(*comment) +
                                     ", but a bundle of version " +
                                     std::to_string(bundle->version) + " is signed with " +
                                     json_text(expected));
  }
  bundle->signature_text = signature_file_text;
  return std::move(*bundle);
}

Signed sign(std::int64_t version, sys_days issued, sys_days expires,
            std::span<const Recipient> recipients, const crypto::minisign::SecretKey& root) {
  json::array list;
  for (const auto& recipient : recipients) {
    list.push_back(json::object{{"id", recipient.id}, {"age", recipient.age.to_string()}});
  }
  const json::object document{{"format", kFormat},
                              {"version", version},
                              {"issued", date_text(issued)},
                              {"expires", date_text(expires)},
                              {"recipients", std::move(list)}};
  Signed result{json::serialize(document) + "\n", {}};
  result.signature_text =
      root.sign({reinterpret_cast<const std::uint8_t*>(result.bytes.data()), result.bytes.size()},
                trusted_comment(version), "signature from the tipline organisation root key")
          .to_file_text();
  return result;
}

bool expired(const Bundle& bundle, sys_days today) { return today >= bundle.expires; }

std::string date_text(sys_days day) {
  const std::chrono::year_month_day date(day);
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text.data();
}

bool is_sealed_to(std::span<const std::uint8_t> file_start, std::size_t recipients) {
  const auto header = crypto::age::Header::parse(file_start);
  return header && *header && crypto::age::check_x25519_stanzas((*header)->header, recipients);
}

std::vector<const crypto::age::Recipient*> age_recipients(const Bundle& bundle) {
  std::vector<const crypto::age::Recipient*> recipients;
  recipients.reserve(bundle.recipients.size());
  for (const auto& recipient : bundle.recipients) recipients.push_back(&recipient.age);
  return recipients;
}

tl::expected<void, Error> install(storage::Store& store, const Bundle& bundle, std::int64_t now) {
  if (expired(bundle, day_of(now))) {
    return fail(Errc::expired, "bundle version " + std::to_string(bundle.version) + " expired on " +
                                   date_text(bundle.expires) + ": sign a newer one");
  }
  // The result is the installed version that blocks this one; nullopt once inserted.
  auto installed = store
                       .write([version = bundle.version, bytes = bundle.bytes,
                               signature = bundle.signature_text, now](storage::Database& db)
                                  -> tl::expected<std::optional<std::int64_t>, storage::Error> {
                         auto highest = db.prepare("SELECT MAX(version) FROM bundles;");
                         if (!highest) return tl::unexpected(highest.error());
                         auto row = highest->step();
                         if (!row) return tl::unexpected(row.error());
                         if (*row && !highest->is_null(0) && highest->integer(0) >= version) {
                           return highest->integer(0);
                         }
                         auto insert = db.prepare(
                             "INSERT INTO bundles (version, bytes, signature, installed_at) "
                             "VALUES (?, ?, ?, ?);");
                         if (!insert) return tl::unexpected(insert.error());
                         const auto blob = std::as_bytes(std::span(bytes));
                         if (auto done = insert->bind(version, blob, signature, now).run(); !done) {
                           return tl::unexpected(done.error());
                         }
                         return std::nullopt;
                       })
                       .get();
  if (!installed) return fail(Errc::database, installed.error().message);
  if (*installed) {
    return fail(Errc::not_newer, "bundle version " + std::to_string(bundle.version) +
                                     " is not newer than the installed version " +
                                     std::to_string(**installed));
  }
  return {};
}

tl::expected<std::optional<Bundle>, Error> current(storage::Store& store) {
  return parse_stored(store.read([](storage::Database& db) { return latest(db); }));
}

tl::expected<void, Error> install_file(const config::Config& config, const fs::path& bundle_file,
                                       const fs::path& signature_file, std::ostream& out) {
  auto root = read_root_key(config.root_public_key_file);
  if (!root) return tl::unexpected(root.error());
  auto bytes = read_file(bundle_file, kMaxBytes, "bundle");
  if (!bytes) return tl::unexpected(bytes.error());
  auto signature = read_file(signature_file, kMaxKeyFileBytes, "minisign signature file");
  if (!signature) return tl::unexpected(signature.error());
  auto bundle = parse_and_verify(*bytes, *signature, *root);
  if (!bundle) {
    return fail(bundle.error().code, bundle_file.string() + ": " + bundle.error().message);
  }
  auto key = database_key(config);
  if (!key) return tl::unexpected(key.error());
  auto store =
      storage::Store::open(config.database_file, *key, storage::Database::Mode::open_existing);
  if (!store) return fail(Errc::database, store.error().message);
  const std::int64_t now = now_seconds();
  if (auto installed = install(**store, *bundle, now); !installed) {
    return fail(installed.error().code, bundle_file.string() + ": " + installed.error().message);
  }
  out << "Installed " << bundle_file.string() << ", signed by the organisation root key "
      << key_id_text(root->key_id()) << ".\n";
  print(out, *bundle, day_of(now));
  return {};
}

tl::expected<void, Error> show(const config::Config& config, std::ostream& out) {
  auto key = database_key(config);
  if (!key) return tl::unexpected(key.error());
  auto db =
      storage::Database::open(config.database_file, *key, storage::Database::Mode::open_existing,
                              {.vfs = {}, .read_only = true});
  if (!db) return fail(Errc::database, db.error().message);
  auto bundle = parse_stored(latest(*db));
  if (!bundle) return tl::unexpected(bundle.error());
  if (!*bundle) {
    out << "No recipient bundle installed: " << kNotAccepting << ".\n";
    return {};
  }
  print(out, **bundle, day_of(now_seconds()));
  return {};
}

}  // namespace tipline::server::bundle
