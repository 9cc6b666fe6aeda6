#include "framing.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

namespace tipline::server {
namespace {

namespace http = boost::beast::http;

// Parses the header block as the session does, then asks framing_problem about it. A
// header Beast itself refuses counts as refused.
std::string problem_of(const std::string& raw) {
  http::request_parser<http::string_body> parser;
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  if (ec) return "beast:" + ec.message();
  EXPECT_TRUE(parser.is_header_done()) << raw;
  const auto problem = framing_problem(raw, parser.get().base());
  return problem ? std::string(problem->view()) : std::string();
}

TEST(Framing, OrdinaryRequestsPass) {
  EXPECT_EQ(problem_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  EXPECT_EQ(problem_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"), "");
  EXPECT_EQ(problem_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), "");
  EXPECT_EQ(problem_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"), "");
  EXPECT_EQ(problem_of("GET / HTTP/1.0\r\n\r\n"), "");
}

// Each of these Beast 1.81 accepts; the checks below are what stops them.
TEST(Framing, ChunkedOnHttp10IsRefused) {
  EXPECT_EQ(problem_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "transfer_encoding_on_http_1_0");
}

TEST(Framing, TransferCodingsOtherThanChunkedAreRefused) {
  EXPECT_EQ(problem_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            "transfer_encoding_not_chunked");
  EXPECT_EQ(
      problem_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
      "transfer_encoding_not_chunked");
}

TEST(Framing, DuplicateContentLengthIsRefusedEvenWhenEqual) {
  EXPECT_EQ(
      problem_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
      "duplicate_content_length");
}

TEST(Framing, AContentLengthListIsRefused) {
  EXPECT_EQ(problem_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n"),
            "malformed_content_length");
}

TEST(Framing, ObsFoldIsRefused) {
  EXPECT_EQ(problem_of("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"), "obs_fold");
  EXPECT_EQ(problem_of("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n"), "obs_fold");
}

TEST(Framing, BareLineEndsAreRefused) {
  const auto lf = framing_problem("GET / HTTP/1.1\nHost: x\r\n\r\n", http::request_header<>());
  ASSERT_TRUE(lf.has_value());
  EXPECT_EQ(lf->view(), "bare_lf");
  const auto cr = framing_problem("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", http::request_header<>());
  ASSERT_TRUE(cr.has_value());
  EXPECT_EQ(cr->view(), "bare_cr");
}

// Beast refuses these itself; the session answers 400 for them as well.
TEST(Framing, WhatBeastRefusesStaysRefused) {
  for (const std::string raw : {
           "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    EXPECT_EQ(problem_of(raw).rfind("beast:", 0), 0u) << raw;
  }
}

}  // namespace
}  // namespace tipline::server
