#include "sources.h"

namespace tipline::server::sources {

// Placeholder until the source service lands.
void handle(const Request& request, const RequestContext& context, Services& /*services*/,
            Respond respond) {
  respond(error_response(boost::beast::http::status::not_implemented, request.version(), context));
}

}  // namespace tipline::server::sources
