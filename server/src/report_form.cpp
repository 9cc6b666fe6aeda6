#include "report_form.h"

namespace tipline::server::report_form {

// Placeholder until the no-JavaScript flow lands.
Response report_page(unsigned version, bool /*head*/, const RequestContext& context,
                     Services& /*services*/) {
  return error_response(boost::beast::http::status::not_implemented, version, context);
}

StreamStart start_report(const RequestHeader& header, const RequestContext& context,
                         Services& /*services*/) {
  return error_response(boost::beast::http::status::not_implemented, header.version(), context);
}

void confirm_codename(const Request& request, const RequestContext& context, Services& /*services*/,
                      Respond respond) {
  respond(error_response(boost::beast::http::status::not_implemented, request.version(), context));
}

}  // namespace tipline::server::report_form
