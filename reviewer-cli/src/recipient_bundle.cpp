#include "recipient_bundle.h"

#include <array>
#include <boost/json.hpp>
#include <ctime>

namespace tipline::review {
namespace {

namespace json = boost::json;

constexpr std::string_view kBundleFormat = "tipline-bundle/1";

tl::unexpected<Failure> fail(int code, std::string message) {
  return tl::unexpected(Failure{code, std::move(message)});
}

tl::unexpected<Failure> malformed(const std::string& why) {
  return fail(kServerError, "the server's recipient bundle is malformed: " + why);
}

const json::string* string_at(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr ? value->if_string() : nullptr;
}

}  // namespace

tl::expected<RecipientBundle, Failure> parse_keys_answer(std::string_view answer,
                                                         const crypto::minisign::PublicKey* root) {
  std::error_code ec;
  const json::value document = json::parse(json::string_view(answer.data(), answer.size()), ec);
  const json::object* object = ec ? nullptr : document.if_object();
  if (object == nullptr) return malformed("not a JSON object");
  const json::string* bundle_text = string_at(*object, "bundle");
  const json::string* signature_text = string_at(*object, "signature");
  if (bundle_text == nullptr || signature_text == nullptr) {
    return malformed("\"bundle\" and \"signature\" must be strings");
  }

  std::optional<std::string> trusted_comment;
  if (root != nullptr) {
    auto signature = crypto::minisign::Signature::parse(*signature_text);
    if (!signature) {
      return fail(kBundleMismatch, "the recipient bundle's signature is malformed: " +
                                       signature.error().message + "; refusing the bundle");
    }
    const std::string_view bytes(*bundle_text);
    auto verified = root->verify(
        {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, *signature);
    if (!verified) {
      return fail(kBundleMismatch,
                  "THE RECIPIENT BUNDLE IS NOT SIGNED BY THE ORGANISATION ROOT KEY (" +
                      verified.error().message +
                      "). The server may be compromised, or its bundle replaced: do not send "
                      "notes, and tell the administrators.");
    }
    trusted_comment = std::move(*verified);
  }

  const json::value contents = json::parse(*bundle_text, ec);
  const json::object* bundle = ec ? nullptr : contents.if_object();
  if (bundle == nullptr) return malformed("the bundle is not a JSON object");
  const json::string* format = string_at(*bundle, "format");
  const json::value* version = bundle->if_contains("version");
  const json::value* recipients = bundle->if_contains("recipients");
  const json::string* expires = string_at(*bundle, "expires");
  if (expires == nullptr || !valid_day(*expires)) {
    return malformed("\"expires\" must be a YYYY-MM-DD date");
  }
  if (format == nullptr || *format != kBundleFormat || version == nullptr || !version->is_int64() ||
      version->get_int64() <= 0 || recipients == nullptr || !recipients->is_array() ||
      recipients->get_array().empty()) {
    return malformed("not a " + std::string(kBundleFormat) + " bundle with recipients");
  }
  RecipientBundle result;
  result.version = version->get_int64();
  result.expires = std::string(*expires);
  if (trusted_comment &&
      *trusted_comment != "tipline-bundle version " + std::to_string(result.version)) {
    return fail(kBundleMismatch, "the recipient bundle's signed comment (\"" + *trusted_comment +
                                     "\") does not name its version " +
                                     std::to_string(result.version) + "; refusing the bundle");
  }
  for (const json::value& entry : recipients->get_array()) {
    const json::object* recipient = entry.if_object();
    const json::string* age = recipient != nullptr ? string_at(*recipient, "age") : nullptr;
    auto parsed =
        age != nullptr
            ? crypto::x25519::Recipient::parse(*age)
            : tl::unexpected(crypto::Error{crypto::Errc::malformed_key, "missing \"age\""});
    if (!parsed) return malformed("a recipient: " + parsed.error().message);
    result.recipients.push_back(*parsed);
  }
  result.verified = root != nullptr;
  return result;
}

bool bundle_expired(const RecipientBundle& bundle, std::string_view today) {
  return today >= bundle.expires;
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::gmtime_r(&now, &parts);
  std::array<char, 16> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%d", &parts);
  return text.data();
}

tl::expected<std::optional<crypto::minisign::PublicKey>, Failure> load_root_key(
    const CaseFolder& folder) {
  std::error_code ec;
  if (!std::filesystem::exists(folder.root_key_file(), ec)) return std::nullopt;
  auto text = read_small_file(folder.root_key_file(), std::size_t{16} << 10);
  if (!text) return fail(kNoCase, text.error());
  auto key = crypto::minisign::PublicKey::parse(*text);
  if (!key) {
    return fail(kNoCase, folder.root_key_file().string() + ": " + key.error().message);
  }
  return *key;
}

tl::expected<RecipientBundle, Failure> load_saved_bundle(const CaseFolder& folder) {
  std::error_code ec;
  if (!std::filesystem::exists(folder.bundle_file(), ec)) {
    return fail(kFailure, "no recipient bundle in the case folder yet: run `tipline-review sync`");
  }
  auto root = load_root_key(folder);
  if (!root) return tl::unexpected(root.error());
  auto text = read_small_file(folder.bundle_file(), std::size_t{1} << 20);
  if (!text) return fail(kNoCase, text.error());
  return parse_keys_answer(*text, *root ? &**root : nullptr);
}

}  // namespace tipline::review
