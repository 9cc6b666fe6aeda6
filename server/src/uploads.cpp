#include "uploads.h"

namespace tipline::server::uploads {

// Placeholder until the upload service lands.
void handle(const Request& request, const RequestContext& context, Services& /*services*/,
            Respond respond) {
  respond(error_response(boost::beast::http::status::not_implemented, request.version(), context));
}

StreamStart start_patch(const RequestHeader& header, const RequestContext& context,
                        Services& /*services*/) {
  return error_response(boost::beast::http::status::not_implemented, header.version(), context);
}

}  // namespace tipline::server::uploads
