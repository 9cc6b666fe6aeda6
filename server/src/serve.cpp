// Listeners and sessions (Boost.Beast): one strand per connection, do_/on_ handler pairs,
// a limit or timeout set before every operation, and the request layer kept apart.
#include <sodium.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "framing.h"
#include "i18n.h"
#include "questionnaire.h"
#include "request_handler.h"
#include "tipline/server/log.h"
#include "tipline/server/server.h"
#include "tipline/storage/database.h"
#include "tipline/storage/maintenance.h"
#include "tipline/storage/store.h"
#include "tls.h"

namespace tipline::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// A lingering close (HttpSession::do_linger) reads at most this long and this much.
constexpr std::chrono::seconds kLingerTime{3};
constexpr std::size_t kLingerBytes = std::size_t{16} << 20;

log::Literal side_name(Side side) {
  return side == Side::source ? log::Literal("source") : log::Literal("reviewer");
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  virtual ~Session() = default;
  // Closes the connection if it is idle; otherwise the response in flight is its last.
  // Callable from any thread.
  virtual void drain() = 0;
};

// The open sessions of both listeners, bounded by limits.max_connections.
class Connections {
 public:
  explicit Connections(std::size_t max) : max_(max) {}

  [[nodiscard]] bool admit(const std::shared_ptr<Session>& session) {
    const std::scoped_lock lock(mutex_);
    if (draining_ || sessions_.size() >= max_) return false;
    sessions_.emplace(session.get(), session);
    return true;
  }

  void release(Session* session) {
    std::function<void()> on_empty;
    {
      const std::scoped_lock lock(mutex_);
      sessions_.erase(session);
      if (draining_ && sessions_.empty()) on_empty = std::exchange(on_empty_, nullptr);
    }
    if (on_empty) on_empty();
  }

  // Admits no more sessions and drains the open ones; on_empty runs once none remain.
  void drain(const std::function<void()>& on_empty) {
    std::vector<std::shared_ptr<Session>> open;
    bool empty = false;
    {
      const std::scoped_lock lock(mutex_);
      draining_ = true;
      for (const auto& [raw, weak] : sessions_) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
      empty = sessions_.empty();
      if (!empty) on_empty_ = on_empty;
    }
    if (empty) on_empty();
    for (const auto& session : open) session->drain();
  }

  // After the io_context stops: sessions it destroys no longer call back into it.
  void forget_on_empty() {
    const std::scoped_lock lock(mutex_);
    on_empty_ = nullptr;
  }

  [[nodiscard]] bool draining() const {
    const std::scoped_lock lock(mutex_);
    return draining_;
  }

  [[nodiscard]] std::size_t count() const {
    const std::scoped_lock lock(mutex_);
    return sessions_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::size_t max_;
  bool draining_ = false;
  std::function<void()> on_empty_;
};

template <bool kTls>
class HttpSession final : public Session {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  HttpSession(net::io_context& ioc, tcp::socket&& socket, ssl::context& tls, Services& services,
              const RequestContext& context, Connections& connections) requires kTls
      : ioc_(ioc),
        stream_(std::move(socket), tls),
        services_(services),
        limits_(services.config.limits),
        context_(context),
        connections_(connections),
        buffer_(limits_.header_bytes + limits_.read_buffer_bytes) {}

  HttpSession(net::io_context& ioc, tcp::socket&& socket, Services& services,
              const RequestContext& context, Connections& connections) requires(!kTls)
      : ioc_(ioc),
        stream_(std::move(socket)),
        services_(services),
        limits_(services.config.limits),
        context_(context),
        connections_(connections),
        buffer_(limits_.header_bytes + limits_.read_buffer_bytes) {}

  ~HttpSession() override {
    wipe_buffers();
    connections_.release(this);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::on_run, shared_this()));
  }

  void drain() override {
    net::post(stream_.get_executor(), [self = shared_this()] {
      if (self->awaiting_request_ && self->buffer_.size() == 0) {
        beast::get_lowest_layer(self->stream_).cancel();
      }
    });
  }

 private:
  std::shared_ptr<HttpSession> shared_this() {
    return std::static_pointer_cast<HttpSession>(shared_from_this());
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // The io_context's executor, counted as work: while the store holds a handler's answer, no
  // socket operation is pending, and the io_context must not think it has run out of work.
  auto tracked_work() {
    return net::prefer(ioc_.get_executor(), net::execution::outstanding_work.tracked);
  }

  // Per-connection source events are debug only: placed among the exactly timed
  // operational lines, they would narrow down when a source connected.
  void fail(beast::error_code ec, log::Literal what) {
    // Peers that vanish, time out or skip the TLS close_notify are routine, not errors.
    if (ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == ssl::error::stream_truncated || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      log::source(log::Level::debug, "connection_closed",
                  {{"listener", side_name(context_.side)}, {"stage", what}, {"code", ec.value()}});
      return;
    }
    log::source(log::Level::debug, "connection_failed",
                {{"listener", side_name(context_.side)}, {"stage", what}, {"code", ec.value()}});
  }

  void on_run() {
    if constexpr (kTls) {
      lowest().expires_after(limits_.handshake_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&HttpSession::on_handshake, shared_this()));
    } else {
      do_read();
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail(ec, "tls_handshake");
    do_read();
  }

  // The header block is read whole first, so that its raw bytes can be checked for the
  // framing Beast would accept (framing.h); the buffer's size bounds it.
  void do_read() {
    if (connections_.draining()) return do_close();
    awaiting_request_ = true;
    lowest().expires_after(limits_.idle_timeout);
    if (buffer_.size() > 0) return on_some_read({}, 0);  // a pipelined request is waiting
    do_read_some();
  }

  void do_read_some() {
    const std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) return refuse(http::status::request_header_fields_too_large);
    stream_.async_read_some(buffer_.prepare(std::min(room, limits_.read_buffer_bytes)),
                            beast::bind_front_handler(&HttpSession::on_some_read, shared_this()));
  }

  void on_some_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      awaiting_request_ = false;
      return on_read_error(ec);
    }
    buffer_.commit(bytes);
    const std::string_view received(static_cast<const char*>(buffer_.data().data()),
                                    buffer_.size());
    const std::size_t end = received.find("\r\n\r\n");
    if (end == std::string_view::npos) return do_read_some();
    awaiting_request_ = false;
    on_header_block(end + 4);
  }

  void on_header_block(std::size_t header_bytes) {
    if (header_bytes > limits_.header_bytes) {
      return refuse(http::status::request_header_fields_too_large);
    }
    beast::error_code ec;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    // Beast checks Content-Length against the body limit as soon as the header ends, and
    // its default is 1 MiB; the route's own limit is set once the route is known.
    parser_->body_limit(boost::none);
    const auto block = net::buffer(buffer_.data(), header_bytes);
    parser_->put(block, ec);
    if (!ec && !parser_->is_header_done()) ec = http::error::partial_message;
    if (ec) return on_read_error(ec);
    const std::string_view raw(static_cast<const char*>(block.data()), block.size());
    if (auto problem = framing_problem(raw, parser_->get().base())) {
      log::source(log::Level::debug, "framing_refused",
                  {{"listener", side_name(context_.side)}, {"problem", *problem}});
      return refuse(http::status::bad_request);
    }
    buffer_.consume(header_bytes);

    const auto& header = parser_->get();
    const BodyPlan plan = plan_body(context_.side, header.method(),
                                    {header.target().data(), header.target().size()}, limits_);
    if (!plan.method_allowed) {
      // The body is never read, so the connection cannot carry another request.
      Response response =
          error_response(http::status::method_not_allowed, header.version(), context_);
      response.set(http::field::allow, plan.allow);
      body_unread_ = true;
      return do_write(std::move(response), false);
    }
    // Beast compares a Content-Length with the limit only when the header ends, which was
    // before the route was known, so that comparison is made here.
    if (const auto length = parser_->content_length(); length && *length > plan.body_limit) {
      return refuse(http::status::payload_too_large);
    }
    if (plan.streamed) return start_streamed(plan.body_limit);
    parser_->body_limit(plan.body_limit);
    // Without a body the parser is done already, and reading again would find it stale.
    if (parser_->is_done()) return on_read({}, 0);
    lowest().expires_after(limits_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return on_read_error(ec);
    Request request = parser_->release();
    parser_.reset();
    const bool keep_alive = request.keep_alive();
    handle_request(std::move(request), context_, services_,
                   [self = shared_this(), work = tracked_work(), keep_alive](Response response) {
                     // The handler may answer from the store's writer thread.
                     net::post(self->stream_.get_executor(),
                               [self, work, keep_alive, response = std::move(response)]() mutable {
                                 self->do_write(std::move(response), keep_alive);
                               });
                   });
  }

  // A streamed request (request_handler.h, BodyStream): its body is read a piece at a time
  // into piece_, and the next piece is read only once the stream has taken the last.
  void start_streamed(std::uint64_t body_limit) {
    const auto& header = parser_->get();
    StreamStart start = start_stream(header.base(), context_, services_);
    if (auto* refusal = std::get_if<Response>(&start)) {
      parser_.reset();
      body_unread_ = true;
      return do_write(std::move(*refusal), false);
    }
    body_stream_ = std::move(std::get<std::unique_ptr<BodyStream>>(start));
    keep_alive_ = header.keep_alive();
    const bool expects_continue = beast::iequals(header[http::field::expect], "100-continue");
    const unsigned version = header.version();
    body_parser_.emplace(std::move(*parser_));
    parser_.reset();
    body_parser_->body_limit(body_limit);
    piece_.resize(limits_.read_buffer_bytes);
    if (!expects_continue || body_parser_->is_done()) return do_read_piece();
    // A client that waits for "100 Continue" (curl, for large bodies) gets it at once: the
    // headers were acceptable.
    continue_.emplace(http::status::continue_, version);
    lowest().expires_after(limits_.write_timeout);
    http::async_write(stream_, *continue_,
                      beast::bind_front_handler(&HttpSession::on_continue, shared_this()));
  }

  void on_continue(beast::error_code ec, std::size_t /*bytes*/) {
    continue_.reset();
    if (ec) return fail(ec, "write");
    do_read_piece();
  }

  void do_read_piece() {
    if (body_parser_->is_done()) return on_body_end();
    auto& body = body_parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    body.more = true;
    // A timeout per piece: a large upload over Tor may take long, but must keep moving.
    lowest().expires_after(limits_.read_timeout);
    http::async_read(stream_, buffer_, *body_parser_,
                     beast::bind_front_handler(&HttpSession::on_piece, shared_this()));
  }

  void on_piece(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      body_stream_.reset();  // a broken body: the stream cleans up after itself
      return on_read_error(ec);
    }
    const std::size_t filled = piece_.size() - body_parser_->get().body().size;
    if (filled == 0) return do_read_piece();
    body_stream_->consume(
        std::span<const std::uint8_t>(piece_.data(), filled),
        [self = shared_this(), work = tracked_work()](std::optional<Response> refusal) {
          net::post(self->stream_.get_executor(),
                    [self, work, refusal = std::move(refusal)]() mutable {
                      if (refusal) return self->end_stream(std::move(*refusal), false);
                      self->do_read_piece();
                    });
        });
  }

  void on_body_end() {
    body_stream_->finish([self = shared_this(), work = tracked_work()](Response response) {
      net::post(self->stream_.get_executor(),
                [self, work, response = std::move(response)]() mutable {
                  self->end_stream(std::move(response), self->keep_alive_);
                });
    });
  }

  void end_stream(Response response, bool keep_alive) {
    body_unread_ = !body_parser_->is_done();
    body_stream_.reset();
    body_parser_.reset();
    wipe_buffers();
    do_write(std::move(response), keep_alive);
  }

  // A no-JavaScript form post passes through both buffers as plaintext. The read buffer is
  // wiped only when empty: a pipelined request may be waiting in it.
  void wipe_buffers() {
    sodium_memzero(piece_.data(), piece_.size());
    if (buffer_.size() == 0) {
      const auto whole = buffer_.prepare(buffer_.capacity());
      sodium_memzero(whole.data(), whole.size());
    }
  }

  // A request refused for its framing or size: answer, then close, because nothing after
  // it on the connection can be trusted.
  void refuse(http::status status) {
    log::source(log::Level::debug, "request_refused",
                {{"listener", side_name(context_.side)}, {"status", static_cast<int>(status)}});
    body_unread_ = true;
    do_write(error_response(status, 11, context_), false);
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return do_close();
    if (ec == http::error::header_limit)
      return refuse(http::status::request_header_fields_too_large);
    if (ec == http::error::body_limit) return refuse(http::status::payload_too_large);
    if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
        ec == http::error::partial_message) {
      return fail(ec, "read");
    }
    refuse(http::status::bad_request);
  }

  void do_write(Response response, bool keep_alive) {
    response.keep_alive(keep_alive && !connections_.draining());
    response_ = std::move(response);
    lowest().expires_after(limits_.write_timeout);
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&HttpSession::on_write, shared_this(), response_->keep_alive()));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t /*bytes*/) {
    // A response may carry a source's codename (the no-JavaScript codename page).
    sodium_memzero(response_->body().data(), response_->body().size());
    if (ec) return fail(ec, "write");
    response_.reset();
    if (!keep_alive) return body_unread_ ? do_linger() : do_close();
    do_read();
  }

  // The client may still be sending the body of a refused request. Closing with unread
  // bytes makes the kernel answer with a reset, which can destroy the response before the
  // client reads it; so read and discard for a bounded time first, as nginx's lingering
  // close does.
  void do_linger() {
    buffer_.consume(buffer_.size());
    if constexpr (!kTls) {
      // Without TLS the client can be told at once that nothing more comes.
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    lowest().expires_after(kLingerTime);
    do_linger_read();
  }

  void do_linger_read() {
    stream_.async_read_some(buffer_.prepare(limits_.read_buffer_bytes),
                            beast::bind_front_handler(&HttpSession::on_linger, shared_this()));
  }

  void on_linger(beast::error_code ec, std::size_t bytes) {
    lingered_bytes_ += bytes;
    if (ec || lingered_bytes_ > kLingerBytes) return do_close();
    do_linger_read();
  }

  void do_close() {
    if constexpr (kTls) {
      lowest().expires_after(limits_.handshake_timeout);
      stream_.async_shutdown(beast::bind_front_handler(&HttpSession::on_shutdown, shared_this()));
    } else {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void on_shutdown(beast::error_code /*ec*/) {
    // The connection ends here whatever the peer did; nothing is left to report.
  }

  net::io_context& ioc_;
  Stream stream_;
  Services& services_;
  const config::Limits& limits_;
  const RequestContext context_;
  Connections& connections_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> body_parser_;
  std::unique_ptr<BodyStream> body_stream_;
  std::vector<std::uint8_t> piece_;
  std::optional<http::response<http::empty_body>> continue_;
  bool keep_alive_ = false;
  bool body_unread_ = false;  // the connection closes after the response, then lingers
  std::size_t lingered_bytes_ = 0;
  std::optional<Response> response_;
  bool awaiting_request_ = false;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, ssl::context* tls, Services& services, RequestContext context,
           Connections& connections)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()),
        tls_(tls),
        services_(services),
        context_(std::move(context)),
        connections_(connections) {}

  // Binds and listens; the error names the address.
  [[nodiscard]] tl::expected<std::uint16_t, std::string> open(const std::string& address,
                                                              std::uint16_t port) {
    beast::error_code ec;
    const tcp::endpoint endpoint(net::ip::make_address(address, ec), port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return tl::unexpected("cannot listen on " + address + " port " + std::to_string(port) + ": " +
                            ec.message());
    }
    return acceptor_.local_endpoint().port();
  }

  void run() { do_accept(); }

  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->retry_timer_.cancel();
      self->acceptor_.close(ignored);
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or memory: pause rather than spin on the failing accept.
      log::operations(log::Level::warn, "accept_failed",
                      {{"listener", side_name(context_.side)}, {"error", ec.message()}});
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->do_accept();
      });
      return;
    }
    start_session(std::move(socket));
    do_accept();
  }

  void start_session(tcp::socket&& socket) {
    std::shared_ptr<Session> session;
    if (tls_ != nullptr) {
      session = std::make_shared<HttpSession<true>>(ioc_, std::move(socket), *tls_, services_,
                                                    context_, connections_);
    } else {
      session = std::make_shared<HttpSession<false>>(ioc_, std::move(socket), services_, context_,
                                                     connections_);
    }
    if (!connections_.admit(session)) {
      log::source(log::Level::warn, "connection_refused",
                  {{"listener", side_name(context_.side)}, {"reason", "max_connections"}});
      return;  // the session is dropped unstarted, which closes the socket
    }
    if (tls_ != nullptr) {
      std::static_pointer_cast<HttpSession<true>>(session)->run();
    } else {
      std::static_pointer_cast<HttpSession<false>>(session)->run();
    }
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  ssl::context* tls_;
  Services& services_;
  const RequestContext context_;
  Connections& connections_;
};

log::Level log_level(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::debug:
      return log::Level::debug;
    case config::LogLevel::info:
      return log::Level::info;
    case config::LogLevel::warn:
      return log::Level::warn;
    case config::LogLevel::error:
      return log::Level::error;
  }
  return log::Level::info;
}

}  // namespace

tl::expected<void, Error> serve(const config::Config& config) {
  log::set_level(log_level(config.log_level));
  // The built-in catalogs are parsed here, so that a broken one stops the server before it
  // listens rather than at its first page.
  static_cast<void>(i18n::languages());
  // The questionnaire is read again for every form; a broken one is refused here, with its
  // problems, rather than found by a witness as a form that never appears.
  if (auto questionnaire = form::load_questionnaire(config.questionnaire_file); !questionnaire) {
    return tl::unexpected(Error{Errc::input, questionnaire.error().message});
  }

  // Open the database first: a wrong key, an older schema that cannot be migrated or a
  // second server on the same database must stop the server before it listens. The store
  // lives until serve returns, holding the lock that keeps restore and rekey out.
  auto key = storage::read_key_file(config.database_key_file);
  if (!key) return tl::unexpected(Error{Errc::database, key.error().message});
  auto store =
      storage::Store::open(config.database_file, *key, storage::Database::Mode::open_existing);
  if (!store) return tl::unexpected(Error{Errc::database, store.error().message});

  // No form post can be in flight yet: its unfinished blobs are from before a stop.
  auto abandoned =
      (*store)
          ->write([](storage::Database& db) { return storage::drop_abandoned_blobs(db); })
          .get();
  if (!abandoned) return tl::unexpected(Error{Errc::database, abandoned.error().message});

  std::unique_ptr<ssl::context> source_tls;
  if (config.source.transport == config::Transport::tls) {
    auto made = make_tls_context(config.source.tls_certificate, config.source.tls_private_key);
    if (!made) return tl::unexpected(Error{Errc::tls, made.error()});
    source_tls = std::move(*made);
  }
  auto reviewer_tls =
      make_tls_context(config.reviewer.tls_certificate, config.reviewer.tls_private_key);
  if (!reviewer_tls) return tl::unexpected(Error{Errc::tls, reviewer_tls.error()});

  // Declared before the io_context so that they outlive every session it destroys.
  // Sessions that the derivation pool drops when Services go still release themselves
  // from Connections, which is therefore declared first.
  Connections connections(config.limits.max_connections);
  Services services(config, **store);
  net::io_context ioc(static_cast<int>(config.threads));

  struct ListenerSlot {
    std::shared_ptr<Listener> listener;
    const config::Listener& settings;
    Side side;
    log::Literal transport;
  };
  const std::vector<ListenerSlot> sides = {
      {std::make_shared<Listener>(
           ioc, source_tls.get(), services,
           RequestContext{Side::source, source_tls != nullptr, config.onion_location}, connections),
       config.source, Side::source, source_tls ? log::Literal("tls") : log::Literal("http")},
      {std::make_shared<Listener>(ioc, reviewer_tls->get(), services,
                                  RequestContext{Side::reviewer, true, {}}, connections),
       config.reviewer, Side::reviewer, "tls"}};
  for (const auto& side : sides) {
    auto port = side.listener->open(side.settings.address, side.settings.port);
    if (!port) return tl::unexpected(Error{Errc::listen, port.error()});
    log::operations(log::Level::info, "listening",
                    {{"listener", side_name(side.side)},
                     {"address", side.settings.address},
                     {"port", *port},
                     {"transport", side.transport}});
  }

  // Shutdown control runs on one strand: the timer and signal set are not thread-safe.
  const auto control = net::make_strand(ioc);
  net::steady_timer grace_timer(control);
  net::steady_timer expiry_timer(control);
  net::signal_set signals(control, SIGINT, SIGTERM);
  std::function<void(beast::error_code, int)> on_signal = [&](beast::error_code ec, int signal) {
    if (ec) return;
    if (connections.draining()) {
      log::operations(log::Level::warn, "shutdown_forced", {{"signal", signal}});
      ioc.stop();
      return;
    }
    log::operations(log::Level::info, "shutdown_started",
                    {{"signal", signal}, {"open_connections", connections.count()}});
    for (const auto& side : sides) side.listener->close();
    grace_timer.expires_after(config.limits.shutdown_grace);
    grace_timer.async_wait([&](beast::error_code wait_ec) {
      if (wait_ec) return;  // cancelled: every connection finished in time
      log::operations(log::Level::warn, "shutdown_grace_expired",
                      {{"open_connections", connections.count()}});
      ioc.stop();
    });
    connections.drain([&] {
      net::post(control, [&] {
        grace_timer.cancel();
        signals.cancel();
        expiry_timer.cancel();
      });
    });
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  // Unfinished drafts and uploads expire by the hour; looking every ten minutes keeps each
  // within a sixth of an hour of its expiry.
  std::function<void(beast::error_code)> on_expiry_due = [&](beast::error_code ec) {
    // The drain cancels the timer, but the wait may have completed just before.
    if (ec || connections.draining()) return;
    (**store).write_then(
        [](storage::Database& db) {
          const auto now = std::chrono::system_clock::now().time_since_epoch();
          return storage::drop_expired(
              db, std::chrono::duration_cast<std::chrono::seconds>(now).count());
        },
        [](const tl::expected<storage::ExpiredCounts, storage::Error>& dropped) {
          if (!dropped) {
            log::operations(log::Level::error, "expiry_failed",
                            {{"error", dropped.error().message}});
          }
        });
    expiry_timer.expires_after(std::chrono::minutes(10));
    expiry_timer.async_wait(on_expiry_due);
  };
  on_expiry_due({});

  for (const auto& side : sides) side.listener->run();
  log::operations(log::Level::info, "started", {{"threads", config.threads}});

  std::vector<std::thread> workers;
  workers.reserve(config.threads - 1);
  for (unsigned i = 1; i < config.threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& worker : workers) worker.join();
  // After a forced stop, answers may still be waiting in the store: let them arrive, so
  // that none outlives what it refers to; the io_context then destroys them unrun.
  connections.forget_on_empty();
  (void)(*store)
      ->write([](storage::Database&) -> tl::expected<void, storage::Error> { return {}; })
      .get();

  log::operations(log::Level::info, "stopped");
  return {};
}

}  // namespace tipline::server
