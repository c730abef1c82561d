// The api over TLS and mutual TLS, checked by a real client (curl) against certificates made with
// the openssl command line: the client verifies the server's certificate against the test CA;
// with a client CA configured, a client without a certificate or with one from another CA is
// refused at the handshake, and the right certificate names its caller by its subject CN.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/services/api/api_harness.h"

namespace probity::api::testing {
namespace {

// Runs a shell command; its exit code, and its standard output in *out.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen(("(" + cmd + ") 2>/dev/null").c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) text.append(buf, n);
  const int rc = pclose(p);
  if (out != nullptr) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A CA, a server certificate for 127.0.0.1 signed by it, a client certificate (CN nao-audit)
// signed by it, and a client certificate with the same CN from another CA.
struct Certs {
  explicit Certs(const fs::path& dir) : dir(dir) {
    fs::create_directories(dir);
    std::ofstream(dir / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    const std::string d = dir.string() + "/";
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto ca = [&](const std::string& name) {
      return "openssl req -x509" + key + " -keyout " + d + name + ".key -out " + d + name +
             ".pem -days 2 -subj /CN=" + name;
    };
    auto leaf = [&](const std::string& name, const std::string& cn, const std::string& by,
                    const std::string& ext) {
      return "openssl req" + key + " -keyout " + d + name + ".key -out " + d + name +
             ".csr -subj /CN=" + cn + " && openssl x509 -req -in " + d + name + ".csr -CA " + d +
             by + ".pem -CAkey " + d + by + ".key -CAcreateserial -days 2 -out " + d + name +
             ".pem" + ext;
    };
    ok = Sh(ca("test-ca")) == 0 && Sh(ca("other-ca")) == 0 &&
         Sh(leaf("server", "localhost", "test-ca", " -extfile " + d + "server.ext")) == 0 &&
         Sh(leaf("client", "nao-audit", "test-ca", "")) == 0 &&
         Sh(leaf("stranger", "nao-audit", "other-ca", "")) == 0;
  }
  std::string at(const std::string& file) const { return (dir / file).string(); }
  fs::path dir;
  bool ok = false;
};

// The test principals and one caller named only by a client certificate.
std::string AccessWithCertificate() {
  std::string json = AccessJson();
  json.insert(json.rfind(']'),
              ",{\"name\":\"nao-audit\",\"role\":\"API_ROLE_AUDITOR\","
              "\"client_cert_subject\":\"nao-audit\"}");
  return json;
}

// curl's exit code for GET /v1/checkpoints/latest over https; *body gets the answer.
int Curl(int port, const std::string& args, std::string* body) {
  return Sh("curl -sS --max-time 10 -o - -w '\\n%{http_code}' " + args +
                " https://127.0.0.1:" + std::to_string(port) + "/v1/checkpoints/latest",
            body);
}

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Sh("openssl version") != 0 || Sh("curl --version") != 0) {
      FAIL() << "the openssl and curl commands are needed (tools/install-deps installs them)";
    }
  }
  void Seed(ApiHarness& h) {
    h.ingest().Add(Practice("A81001", "QHM"), bus::kPracticesTopic);
    h.ingest().Sign();
  }
};

TEST_F(ApiTlsTest, ServesHttpsThatAClientVerifiesAgainstTheCa) {
  Certs certs(fs::path(::testing::TempDir()) / ("certs-tls-" + std::to_string(getpid())));
  ASSERT_TRUE(certs.ok);
  ApiOptions o;
  o.tls_cert_file = certs.at("server.pem");
  o.tls_key_file = certs.at("server.key");
  ApiHarness h("tls", o);
  Seed(h);
  h.StartApi();
  ASSERT_TRUE(h.server_tls());
  std::string body;
  // Verified against the CA, authenticated by a bearer token.
  ASSERT_EQ(Curl(h.port(),
                 "--cacert " + certs.at("test-ca.pem") + " -H 'Authorization: Bearer tok-auditor'",
                 &body),
            0);
  EXPECT_NE(body.find("\"tree_size\":\"1\""), std::string::npos) << body;
  EXPECT_EQ(body.substr(body.size() - 3), "200");
  // Without a bearer token (and no client CA configured): 401 over TLS.
  ASSERT_EQ(Curl(h.port(), "--cacert " + certs.at("test-ca.pem"), &body), 0);
  EXPECT_EQ(body.substr(body.size() - 3), "401");
  // A client that trusts another CA refuses the server's certificate (curl: 60).
  EXPECT_EQ(Curl(h.port(), "--cacert " + certs.at("other-ca.pem"), &body), 60);
  // Plain HTTP to the TLS port gets no answer.
  httplib::Client plain("127.0.0.1", h.port());
  plain.set_read_timeout(5);
  auto r = plain.Get("/v1/checkpoints/latest", {{"Authorization", "Bearer tok-auditor"}});
  EXPECT_TRUE(!r || r->status != 200);
}

TEST_F(ApiTlsTest, MutualTlsRefusesNoOrAWrongClientCertificateAndNamesTheCallerByTheRightOne) {
  Certs certs(fs::path(::testing::TempDir()) / ("certs-mtls-" + std::to_string(getpid())));
  ASSERT_TRUE(certs.ok);
  ApiOptions o;
  o.tls_cert_file = certs.at("server.pem");
  o.tls_key_file = certs.at("server.key");
  o.client_ca_file = certs.at("test-ca.pem");
  ApiHarness h("mtls", o, AccessWithCertificate());
  Seed(h);
  h.StartApi();
  const std::string ca = "--cacert " + certs.at("test-ca.pem");
  std::string body;
  // No client certificate: the handshake fails (even with a good token), no HTTP answer.
  EXPECT_NE(Curl(h.port(), ca + " -H 'Authorization: Bearer tok-auditor'", &body), 0);
  EXPECT_EQ(body.find("tree_size"), std::string::npos);
  // A certificate with the right CN from another CA: refused too.
  EXPECT_NE(Curl(h.port(),
                 ca + " --cert " + certs.at("stranger.pem") + " --key " + certs.at("stranger.key"),
                 &body),
            0);
  EXPECT_EQ(body.find("tree_size"), std::string::npos);
  // The right certificate: the caller is nao-audit, with no token.
  ASSERT_EQ(
      Curl(h.port(), ca + " --cert " + certs.at("client.pem") + " --key " + certs.at("client.key"),
           &body),
      0);
  EXPECT_EQ(body.substr(body.size() - 3), "200") << body;
  EXPECT_NE(body.find("\"tree_size\":\"1\""), std::string::npos) << body;
  bool named = false;
  for (const std::string& line : h.LogLines())
    named |= line.find(" nao-audit ") != std::string::npos;
  EXPECT_TRUE(named) << "the request log names the certificate's caller";
}

}  // namespace
}  // namespace probity::api::testing
