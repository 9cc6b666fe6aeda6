#include "sources.h"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>

#include "bundle.h"
#include "submissions.h"
#include "tipline/crypto/codename.h"
#include "tipline/crypto/secret.h"
#include "tipline/crypto/x25519.h"
#include "tipline/server/log.h"
#include "tipline/storage/store.h"

namespace tipline::server::sources {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kTokenBytes = 32;

// Answers one request; copyable, so it can travel through Store::write_then.
class Reply {
 public:
  Reply(Respond respond, unsigned version, RequestContext context)
      : respond_(std::move(respond)), version_(version), context_(std::move(context)) {}

  void send(http::status status, const json::object& body) const {
    respond_(json_response(status, version_, json::serialize(body), false, context_));
  }
  void error(http::status status, std::string_view message) const {
    send(status, json::object{{"error", message}});
  }

 private:
  Respond respond_;
  unsigned version_;
  RequestContext context_;
};

// The body's JSON object if it has every key of `required`, any of `optional` and no other.
json::object* object_with_keys(json::value& parsed,
                               std::initializer_list<std::string_view> required,
                               std::initializer_list<std::string_view> optional) {
  json::object* object = parsed.if_object();
  if (object == nullptr) return nullptr;
  for (const std::string_view key : required) {
    if (!object->contains(key)) return nullptr;
  }
  for (const auto& member : *object) {
    const auto is_key = [&](std::string_view key) { return key == member.key(); };
    if (std::none_of(required.begin(), required.end(), is_key) &&
        std::none_of(optional.begin(), optional.end(), is_key)) {
      return nullptr;
    }
  }
  return object;
}

// The 32-byte login secret in object[key] (standard padded base64). The base64 text in the
// parsed JSON is wiped either way, so the secret is left only in secret memory (the raw
// request body belongs to the session).
std::optional<crypto::Secret> take_login_secret(json::object& object) {
  json::string* text =
      object.contains("login_secret") ? object["login_secret"].if_string() : nullptr;
  if (text == nullptr) return std::nullopt;
  crypto::Secret secret(kSecretBytes);
  std::size_t size = 0;
  const bool decoded =
      sodium_base642bin(secret.expose().data(), secret.size(), text->data(), text->size(), nullptr,
                        &size, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0 &&
      size == kSecretBytes;
  sodium_memzero(text->data(), text->size());
  if (!decoded) return std::nullopt;
  return secret;
}

void register_source(json::object& object, Services& services, const Reply& reply) {
  const std::optional<crypto::Secret> secret = take_login_secret(object);
  const json::string* recipient_text = object["recipient"].if_string();
  if (!secret || recipient_text == nullptr) {
    return reply.error(http::status::bad_request,
                       "the body must be {\"login_secret\": BASE64 of 32 bytes, "
                       "\"recipient\": \"age1...\"} and nothing else");
  }
  auto recipient = crypto::x25519::Recipient::parse(*recipient_text);
  if (!recipient) {
    return reply.error(http::status::bad_request,
                       "the recipient is not an age X25519 recipient (age1...)");
  }
  services.store.write_then(
      [login_hash = crypto::codename::login_hash(*secret),
       text = recipient->to_string()](storage::Database& db) -> tl::expected<bool, storage::Error> {
        auto inserted = insert_source(db, login_hash, text);
        if (inserted) return true;
        // Taken is an answer, not a failure: failing would roll back the shared batch.
        if (inserted.error().code == storage::Errc::exists) return false;
        return tl::unexpected(inserted.error());
      },
      [reply](tl::expected<bool, storage::Error> created) {
        if (!created) {
          log::source(log::Level::warn, "source_not_stored");
          return reply.error(http::status::internal_server_error,
                             "the source could not be stored; please try again");
        }
        if (!*created) {
          return reply.error(http::status::conflict, "this codename is already registered");
        }
        log::source(log::Level::debug, "source_registered");
        reply.send(http::status::created, {});
      });
}

void log_in(json::object& object, Services& services, const Reply& reply) {
  const std::optional<crypto::Secret> secret = take_login_secret(object);
  if (!secret) {
    return reply.error(http::status::bad_request,
                       "the body must be {\"login_secret\": BASE64 of 32 bytes} and nothing else");
  }
  services.store.write_then(
      [login_hash = crypto::codename::login_hash(*secret)](
          storage::Database& db) -> tl::expected<bool, storage::Error> {
        auto update = db.prepare("UPDATE sources SET last_seen_day = ? WHERE login_hash = ?;");
        if (!update) return tl::unexpected(update.error());
        update->bind(today(), std::as_bytes(std::span(login_hash)));
        if (auto ran = update->run(); !ran) return tl::unexpected(ran.error());
        return db.changes() == 1;
      },
      [reply](tl::expected<bool, storage::Error> known) {
        if (!known) {
          return reply.error(http::status::internal_server_error,
                             "the tip line could not check the codename; please try again");
        }
        if (!*known) return reply.error(http::status::unauthorized, "no source has this codename");
        reply.send(http::status::ok, {});
      });
}

// Inside a write transaction: a draft, bound to the source of `login_hash` if given.
// false: no source has that login hash.
tl::expected<bool, storage::Error> insert_draft(storage::Database& db, const TokenHash& token_hash,
                                                const std::optional<TokenHash>& login_hash,
                                                std::int64_t expires_hour) {
  std::optional<std::int64_t> source;
  if (login_hash) {
    auto found = source_id_by_login_hash(db, *login_hash);
    if (!found) return tl::unexpected(found.error());
    if (!*found) return false;
    source = *found;
  }
  auto insert =
      db.prepare("INSERT INTO drafts (token_hash, source_id, expires_hour) VALUES (?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  insert->bind(std::as_bytes(std::span(token_hash)), source, expires_hour);
  if (auto ran = insert->run(); !ran) return tl::unexpected(ran.error());
  return true;
}

// The global limit on new drafts, limits.drafts_per_minute. Services (request_handler.h)
// has no member for it, so it is made here from the configuration of the first draft
// asked for: a server process has one configuration.
submissions::TokenBucket& draft_bucket(const config::Limits& limits) {
  static submissions::TokenBucket bucket(limits.drafts_per_minute);
  return bucket;
}

void create_draft(json::object& object, Services& services, const Reply& reply) {
  std::optional<TokenHash> login_hash;
  if (object.contains("login_secret")) {
    const std::optional<crypto::Secret> secret = take_login_secret(object);
    if (!secret) {
      return reply.error(http::status::bad_request,
                         "the body must be {} or {\"login_secret\": BASE64 of 32 bytes}");
    }
    login_hash = crypto::codename::login_hash(*secret);
  }
  // Every draft may take limits.uploads_per_draft uploads: unbounded drafts would make
  // that limit moot.
  if (!draft_bucket(services.config.limits).take()) {
    log::source(log::Level::debug, "draft_refused", {{"reason", "rate_limited"}});
    return reply.error(http::status::too_many_requests,
                       "the tip line is making many drafts; try again in a minute");
  }
  const crypto::Secret token = crypto::Secret::random(kTokenBytes);
  const crypto::Secret hex = token.to_hex();
  std::string token_text(reinterpret_cast<const char*>(hex.expose().data()), hex.size());
  const TokenHash token_hash = *draft_token_hash(token_text);
  const std::int64_t expires_hour = current_hour() + services.config.limits.upload_expiry.count();
  services.store.write_then(
      [token_hash, login_hash, expires_hour](storage::Database& db) {
        return insert_draft(db, token_hash, login_hash, expires_hour);
      },
      [reply, token_text = std::move(token_text)](tl::expected<bool, storage::Error> made) mutable {
        if (!made) {
          reply.error(http::status::internal_server_error,
                      "the draft could not be stored; please try again");
        } else if (!*made) {
          reply.error(http::status::unauthorized, "no source has this codename");
        } else {
          log::source(log::Level::debug, "draft_created");
          reply.send(http::status::created, json::object{{"draft", token_text}});
        }
        sodium_memzero(token_text.data(), token_text.size());
      });
}

}  // namespace

void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond) {
  const Reply reply(std::move(respond), request.version(), context);
  const auto& installed = services.installed_bundle;
  if (!installed) {
    return reply.error(http::status::internal_server_error, "the tip line cannot read its keys");
  }
  if (!*installed) return reply.error(http::status::service_unavailable, bundle::kNotAccepting);

  const std::string_view path = path_of({request.target().data(), request.target().size()});
  boost::system::error_code ec;
  json::value parsed = json::parse(request.body(), ec);
  if (ec) return reply.error(http::status::bad_request, "the body is not JSON");
  if (path == "/api/v1/sources") {
    if (auto* object = object_with_keys(parsed, {"login_secret", "recipient"}, {})) {
      return register_source(*object, services, reply);
    }
  } else if (path == "/api/v1/sources/login") {
    if (auto* object = object_with_keys(parsed, {"login_secret"}, {})) {
      return log_in(*object, services, reply);
    }
  } else if (auto* object = object_with_keys(parsed, {}, {"login_secret"})) {
    return create_draft(*object, services, reply);
  }
  if (auto* object = parsed.if_object(); object != nullptr && object->contains("login_secret")) {
    (void)take_login_secret(*object);  // only to wipe it
  }
  reply.error(http::status::bad_request, "the body has missing or unknown keys");
}

tl::expected<std::int64_t, storage::Error> insert_source(
    storage::Database& db, const std::array<std::uint8_t, 32>& login_hash,
    std::string_view recipient) {
  // Checked first, so that a taken hash is Errc::exists rather than a failed statement.
  auto existing = source_id_by_login_hash(db, login_hash);
  if (!existing) return tl::unexpected(existing.error());
  if (*existing) {
    return tl::unexpected(storage::Error{storage::Errc::exists, "the login hash is taken"});
  }
  auto insert = db.prepare(
      "INSERT INTO sources (login_hash, recipient, created_day, last_seen_day) "
      "VALUES (?, ?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  const std::int64_t day = today();
  insert->bind(std::as_bytes(std::span(login_hash)), recipient, day, day);
  if (auto ran = insert->run(); !ran) return tl::unexpected(ran.error());
  return db.last_insert_id();
}

tl::expected<std::optional<std::int64_t>, storage::Error> source_id_by_login_hash(
    storage::Database& db, const TokenHash& login_hash) {
  auto query = db.prepare("SELECT id FROM sources WHERE login_hash = ?;");
  if (!query) return tl::unexpected(query.error());
  query->bind(std::as_bytes(std::span(login_hash)));
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  return query->integer(0);
}

std::optional<TokenHash> draft_token_hash(std::string_view token) {
  if (!is_lower_hex(token, kTokenBytes * 2)) return std::nullopt;
  crypto::Secret bytes(kTokenBytes);
  if (sodium_hex2bin(bytes.expose().data(), bytes.size(), token.data(), token.size(), nullptr,
                     nullptr, nullptr) != 0) {
    return std::nullopt;
  }
  TokenHash hash{};
  crypto_generichash(hash.data(), hash.size(), bytes.expose().data(), bytes.size(), nullptr, 0);
  return hash;
}

tl::expected<std::optional<Draft>, storage::Error> find_draft(storage::Database& db,
                                                              const TokenHash& token_hash) {
  auto query = db.prepare("SELECT id, source_id, expires_hour FROM drafts WHERE token_hash = ?;");
  if (!query) return tl::unexpected(query.error());
  query->bind(std::as_bytes(std::span(token_hash)));
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  Draft draft;
  draft.id = query->integer(0);
  if (!query->is_null(1)) draft.source_id = query->integer(1);
  draft.expires_hour = query->integer(2);
  return draft;
}

}  // namespace tipline::server::sources
