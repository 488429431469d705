// Proves the Windows dependency prefix under wine: each library the agent uses, doing the job the
// agent needs it for (verified TLS 1.3, SQLite WAL, YAML, a log file, JSON, URLs, zlib, CLI11, libdeflate).
//   deps_probe.exe --tls-port N --ca CA.pem --dir FOLDER
// A TLS server for "localhost" signed by CA.pem must listen on 127.0.0.1:N (scripts/ci-windows.sh
// runs Linux's `openssl s_server`). Prints one line per check and "deps_probe: N passed, N failed".
#include <libdeflate.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sqlite3.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;

struct Options {
  int tls_port = 0;
  std::string ca_file;
  std::string dir;
};

// Handshakes with 127.0.0.1:port expecting the certificate to name `host`; on success sends a GET
// and returns the first line of the answer. `verify_result` gets OpenSSL's verdict either way.
std::string TlsGet(const Options& opt, const std::string& host, long* verify_result, std::string* error) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  ctx.load_verify_file(opt.ca_file);
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  SSL_set1_host(stream.native_handle(), host.c_str());
  boost::system::error_code ec;
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(opt.tls_port)}, ec);
  if (!ec) stream.handshake(asio::ssl::stream_base::client, ec);
  *verify_result = SSL_get_verify_result(stream.native_handle());
  if (ec) {
    *error = ec.message();
    return "";
  }
  if (SSL_version(stream.native_handle()) != TLS1_3_VERSION) {
    *error = std::string("negotiated ") + SSL_get_version(stream.native_handle());
    return "";
  }
  http::request<http::empty_body> req{http::verb::get, "/", 11};
  req.set(http::field::host, host);
  http::write(stream, req, ec);
  std::string answer;
  std::vector<char> buf(4096);
  while (!ec && answer.size() < 64) {
    const size_t n = stream.read_some(asio::buffer(buf), ec);
    answer.append(buf.data(), n);
  }
  return answer.substr(0, answer.find('\r'));
}

bool CheckTlsVerified(const Options& opt, std::string* why) {
  long verify = -1;
  const std::string line = TlsGet(opt, "localhost", &verify, why);
  if (line.rfind("HTTP/1.0 200", 0) != 0) {
    *why += " (first line: '" + line + "', verify " + std::to_string(verify) + ")";
    return false;
  }
  *why = "TLS 1.3, certificate verified for localhost, answer '" + line + "'";
  return verify == X509_V_OK;
}

bool CheckTlsWrongHost(const Options& opt, std::string* why) {
  long verify = -1;
  std::string error;
  const std::string line = TlsGet(opt, "wrong.invalid", &verify, &error);
  *why = "verify result " + std::to_string(verify) + " (" + X509_verify_cert_error_string(verify) + "), " + error;
  return line.empty() && verify == X509_V_ERR_HOSTNAME_MISMATCH;
}

bool CheckOpensslDir(std::string* why) {
  // A path that users may create (C:\usr\local\ssl) would let them plant a configuration.
  const std::string dir = OpenSSL_version(OPENSSL_DIR);
  *why = dir;
  return dir.rfind("OPENSSLDIR: \"C:/Program Files/", 0) == 0;
}

bool CheckSqliteWal(const Options& opt, std::string* why) {
  const std::string path = opt.dir + "/probe.db";
  fs::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return *why = sqlite3_errmsg(db), false;
  std::string mode;
  sqlite3_exec(
      db, "PRAGMA journal_mode=WAL",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) = values[0] ? values[0] : "";
        return 0;
      },
      &mode, nullptr);
  char* err = nullptr;
  int rc = sqlite3_exec(db, "CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('row');", nullptr, nullptr, &err);
  const bool wal_file = fs::exists(path + "-wal");
  sqlite3* reader = nullptr;
  int count = -1;
  if (rc == SQLITE_OK && sqlite3_open(path.c_str(), &reader) == SQLITE_OK) {
    sqlite3_exec(
        reader, "SELECT count(*) FROM t",
        [](void* out, int, char** values, char**) {
          *static_cast<int*>(out) = std::stoi(values[0]);
          return 0;
        },
        &count, nullptr);
  }
  *why = "journal_mode=" + mode + ", -wal file " + (wal_file ? "present" : "missing") + ", second connection sees " +
         std::to_string(count) + " row(s), SQLite " + sqlite3_libversion() + (err ? std::string(", ") + err : "");
  sqlite3_free(err);
  sqlite3_close(reader);
  sqlite3_close(db);
  return mode == "wal" && wal_file && count == 1;
}

bool CheckYaml(std::string* why) {
  const YAML::Node doc = YAML::Load("outbox:\n  max_size_mb: 512\nnames: [a, b]\n");
  const int size = doc["outbox"]["max_size_mb"].as<int>();
  *why = "max_size_mb=" + std::to_string(size) + ", " + std::to_string(doc["names"].size()) + " names";
  return size == 512 && doc["names"].size() == 2 && doc["names"][1].as<std::string>() == "b";
}

bool CheckSpdlogFile(const Options& opt, std::string* why) {
  const std::string path = opt.dir + "/probe.log";
  fs::remove(path);
  {
    auto logger = spdlog::basic_logger_mt("probe", path);
    logger->info("probe line {}", 42);
    logger->flush();
    spdlog::drop("probe");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  *why = path + ": " + text.str().substr(0, text.str().find('\n'));
  return text.str().find("probe line 42") != std::string::npos;
}

bool CheckJsonUrlZlibCli(std::string* why) {
  const boost::json::value v = boost::json::parse(R"({"kind":"disk_full","n":[1,2]})");
  const auto url = boost::urls::parse_uri("https://bridge.example:8443/v1/sync?x=1");
  std::string text(2000, 'a');
  uLongf packed_size = compressBound(text.size());
  std::vector<Bytef> packed(packed_size);
  compress(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(text.data()), text.size());
  std::string back(text.size(), '\0');
  uLongf back_size = back.size();
  uncompress(reinterpret_cast<Bytef*>(back.data()), &back_size, packed.data(), packed_size);
  CLI::App app;
  int n = 0;
  app.add_option("-n", n);
  std::vector<std::string> args = {"7", "-n"};  // CLI11 takes them reversed
  app.parse(args);
  *why = "json " + boost::json::serialize(v) + ", url port " + (url ? std::string(url->port()) : "?") + ", zlib " +
         std::to_string(text.size()) + "->" + std::to_string(packed_size) + " bytes, CLI11 -n " + std::to_string(n);
  return v.at("n").as_array().size() == 2 && url && url->port() == "8443" && back == text && n == 7;
}

// libdeflate's gzip (request bodies) inflated by zlib (as a server and the agent's responses do).
bool CheckLibdeflateGzip(std::string* why) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "{\"id\":\"r_" + std::to_string(i) + "\",\"type\":\"patient\"},";
  libdeflate_compressor* c = libdeflate_alloc_compressor(4);
  if (c == nullptr) return false;
  std::string packed(libdeflate_gzip_compress_bound(c, text.size()), '\0');
  packed.resize(libdeflate_gzip_compress(c, text.data(), text.size(), packed.data(), packed.size()));
  libdeflate_free_compressor(c);
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string back(text.size() + 1, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(packed.data());
  zs.avail_in = static_cast<uInt>(packed.size());
  zs.next_out = reinterpret_cast<Bytef*>(back.data());
  zs.avail_out = static_cast<uInt>(back.size());
  const int rc = inflate(&zs, Z_FINISH);
  back.resize(zs.total_out);
  inflateEnd(&zs);
  *why = std::string("libdeflate ") + LIBDEFLATE_VERSION_STRING + " gzip " + std::to_string(text.size()) + "->" +
         std::to_string(packed.size()) + " bytes, zlib inflates it " + (back == text ? "back" : "WRONG");
  return rc == Z_STREAM_END && back == text;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"Windows dependency probe"};
  app.add_option("--tls-port", opt.tls_port)->required();
  app.add_option("--ca", opt.ca_file)->required();
  app.add_option("--dir", opt.dir)->required();
  CLI11_PARSE(app, argc, argv);

  const std::vector<std::pair<std::string, std::function<bool(std::string*)>>> checks = {
      {"tls13_verified", [&](std::string* w) { return CheckTlsVerified(opt, w); }},
      {"tls_wrong_host_refused", [&](std::string* w) { return CheckTlsWrongHost(opt, w); }},
      {"openssldir_not_user_writable", CheckOpensslDir},
      {"sqlite_wal", [&](std::string* w) { return CheckSqliteWal(opt, w); }},
      {"yaml_cpp_parse", CheckYaml},
      {"spdlog_file", [&](std::string* w) { return CheckSpdlogFile(opt, w); }},
      {"json_url_zlib_cli11", CheckJsonUrlZlibCli},
      {"libdeflate_gzip", CheckLibdeflateGzip},
  };
  int passed = 0;
  int failed = 0;
  for (const auto& [name, check] : checks) {
    std::string why;
    bool ok = false;
    try {
      ok = check(&why);
    } catch (const std::exception& e) {
      why += std::string(" exception: ") + e.what();
    }
    std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", name.c_str(), why.c_str());
    (ok ? passed : failed)++;
  }
  std::printf("deps_probe: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
