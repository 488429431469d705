// Base and proxy URL parsing, loopback detection, NO_PROXY matching and the plain-text secret rule.
#include "agent/http/url.h"

#include <gtest/gtest.h>

namespace opescare::http {
namespace {

TEST(ParseBaseUrl, HttpsWithDefaultsAndPath) {
  auto e = ParseBaseUrl("https://API.OpesCare.com");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->scheme, "https");
  EXPECT_EQ(e->host, "api.opescare.com");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->base_path, "");
  EXPECT_EQ(e->HostHeader(), "api.opescare.com");
  EXPECT_EQ(e->HostPort(), "api.opescare.com:443");

  auto p = ParseBaseUrl("http://127.0.0.1:8080/prefix/");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->tls());
  EXPECT_EQ(p->port, 8080);
  EXPECT_EQ(p->base_path, "/prefix");
  EXPECT_EQ(p->HostHeader(), "127.0.0.1:8080");
}

TEST(ParseBaseUrl, Ipv6Literal) {
  auto e = ParseBaseUrl("https://[::1]:8443");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->HostPort(), "[::1]:8443");
}

TEST(ParseBaseUrl, RejectsWhatItCannotUse) {
  for (const char* bad : {"", "api.opescare.com", "ftp://x", "https://", "https://host:0", "https://host:70000",
                          "https://host:abc", "https://user:pw@host", "https://host/a?b=c", "https://host/#f",
                          "https://[::1", "https://ho st", "https://host/a b"}) {
    EXPECT_FALSE(ParseBaseUrl(bad).ok()) << bad;
  }
}

TEST(ParseProxyUrl, WithAndWithoutCredentials) {
  auto p = ParseProxyUrl("http://user%40corp:p%3Ass@proxy.local:3128");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->host, "proxy.local");
  EXPECT_EQ(p->port, 3128);
  EXPECT_EQ(p->username, "user@corp");
  EXPECT_EQ(p->password, "p:ss");
  EXPECT_EQ(p->HostPort(), "proxy.local:3128");

  auto bare = ParseProxyUrl("127.0.0.1:8888/");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "127.0.0.1");
  EXPECT_TRUE(bare->username.empty());
  EXPECT_FALSE(ParseProxyUrl("https://proxy:443").ok());
  EXPECT_FALSE(ParseProxyUrl("socks5://proxy:1080").ok());
  EXPECT_FALSE(ParseProxyUrl("http://u:%zz@proxy:1").ok());
}

TEST(IsLoopbackHost, NamesAndLiterals) {
  for (const char* h :
       {"localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (const char* h : {"api.opescare.com", "10.0.0.1", "128.0.0.1", "::2", "localhost.example.com", "0.0.0.0", ""}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(NoProxyMatches, CurlSemantics) {
  EXPECT_TRUE(NoProxyMatches("anything.com", 443, "*"));
  EXPECT_TRUE(NoProxyMatches("example.com", 443, "example.com"));
  EXPECT_TRUE(NoProxyMatches("api.example.com", 443, "example.com"));
  EXPECT_TRUE(NoProxyMatches("api.example.com", 443, ".example.com"));
  EXPECT_TRUE(NoProxyMatches("example.com", 443, ".example.com"));
  EXPECT_FALSE(NoProxyMatches("badexample.com", 443, "example.com"));
  EXPECT_TRUE(NoProxyMatches("API.Example.COM", 443, "localhost, .example.com"));
  EXPECT_TRUE(NoProxyMatches("127.0.0.1", 443, "localhost,127.0.0.1"));
  EXPECT_FALSE(NoProxyMatches("127.0.0.2", 443, "127.0.0.1"));
  EXPECT_TRUE(NoProxyMatches("::1", 443, "::1"));
  EXPECT_TRUE(NoProxyMatches("host", 8443, "host:8443"));
  EXPECT_FALSE(NoProxyMatches("host", 443, "host:8443"));
  EXPECT_FALSE(NoProxyMatches("host", 443, ""));
  EXPECT_FALSE(NoProxyMatches("host", 443, " , ,"));
}

TEST(SecretAllowedOn, OnlyTlsOrAllLoopback) {
  Endpoint tls = *ParseBaseUrl("https://api.opescare.com");
  Endpoint local = *ParseBaseUrl("http://127.0.0.1:8080");
  Endpoint remote = *ParseBaseUrl("http://opescare.test");
  ProxySpec local_proxy = *ParseProxyUrl("http://127.0.0.1:3128");
  ProxySpec remote_proxy = *ParseProxyUrl("http://proxy.corp:3128");
  EXPECT_TRUE(SecretAllowedOn(tls, nullptr));
  EXPECT_TRUE(SecretAllowedOn(tls, &remote_proxy));
  EXPECT_TRUE(SecretAllowedOn(local, nullptr));
  EXPECT_TRUE(SecretAllowedOn(local, &local_proxy));
  EXPECT_FALSE(SecretAllowedOn(local, &remote_proxy));
  EXPECT_FALSE(SecretAllowedOn(remote, nullptr));
}

}  // namespace
}  // namespace opescare::http
