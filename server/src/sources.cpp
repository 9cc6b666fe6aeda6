#include "sources.h"

#include <span>

#include "submissions.h"

namespace tipline::server::sources {

// Placeholder until the source service lands.
void handle(const Request& request, const RequestContext& context, Services& /*services*/,
            Respond respond) {
  respond(error_response(boost::beast::http::status::not_implemented, request.version(), context));
}

tl::expected<std::int64_t, storage::Error> insert_source(
    storage::Database& db, const std::array<std::uint8_t, 32>& login_hash,
    std::string_view recipient) {
  auto insert = db.prepare(
      "INSERT INTO sources (login_hash, recipient, created_day, last_seen_day) "
      "VALUES (?, ?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  const std::int64_t day = submissions::today();
  insert->bind(std::as_bytes(std::span(login_hash)), recipient, day, day);
  if (auto ran = insert->run(); !ran) return tl::unexpected(ran.error());
  return db.last_insert_id();
}

}  // namespace tipline::server::sources
