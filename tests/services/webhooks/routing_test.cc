// The routing file: every error names its line; each event goes where the file says and nowhere
// else; watch-lists; Alertmanager labels.
#include "services/webhooks/routing.h"

#include <gtest/gtest.h>

namespace probity::webhooks {
namespace {

constexpr char kGood[] = R"(api_base_url: https://probity.example/
watchlists:
  jane:
    owner: Jane Smith, QHM contracts
    practices: [A81001, A81002]
endpoints:
  casework:
    url: http://127.0.0.1:46001/hooks
  finance:
    url: https://finance.example/probity
    signature: hmac
    hmac_secret_files: [/etc/probity/finance.whsec]
    events: payment.instruction
  everything:
    url: http://127.0.0.1:46003/
    signature: both
    hmac_secret_files: [/a, /b]
routes:
  - name: qhm-critical
    match: {icb: QHM, severity: [critical]}
    endpoints: [casework]
    alertmanager_labels: {team: qhm-contracts}
  - name: janes-practices
    match: {watchlist: jane, event: [flag.raised, flag.decided]}
    endpoints: [casework]
    alertmanager_labels: {watchlist: jane, team: jane}
  - name: payments
    match: {event: payment.instruction}
    endpoints: [finance]
  - name: all
    endpoints: [everything, finance]
)";

Routing Good() {
  auto r = Routing::Parse(kGood, "routing.yaml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return *r;
}

std::vector<std::string> Names(const Routing& r, const Subject& s) {
  std::vector<std::string> out;
  for (size_t i : r.EndpointsFor(s)) out.push_back(r.endpoints()[i].name);
  return out;
}

TEST(RoutingTest, EachEventGoesWhereTheFileSaysAndNowhereElse) {
  Routing r = Good();
  EXPECT_EQ(r.api_base_url(), "https://probity.example");
  ASSERT_EQ(r.endpoints().size(), 3u);
  EXPECT_TRUE(r.endpoints()[0].ed25519);
  EXPECT_FALSE(r.endpoints()[0].hmac);
  EXPECT_FALSE(r.endpoints()[1].ed25519);
  EXPECT_TRUE(r.endpoints()[2].ed25519 && r.endpoints()[2].hmac);
  // QHM critical: casework (qhm-critical) and everything; finance only takes instructions.
  EXPECT_EQ(Names(r, {"flag.raised", "B82005", "QHM", "dup", "critical"}),
            (std::vector<std::string>{"casework", "everything"}));
  // QHM warning, not watched: only the catch-all.
  EXPECT_EQ(Names(r, {"flag.raised", "B82005", "QHM", "dup", "warning"}),
            (std::vector<std::string>{"everything"}));
  // A watched practice in another ICB, any severity: casework through the watch-list.
  EXPECT_EQ(Names(r, {"flag.decided", "A81002", "QOX", "dup", "info"}),
            (std::vector<std::string>{"casework", "everything"}));
  // An instruction for a watched practice: not casework (the watch-list route is for flags).
  EXPECT_EQ(Names(r, {"payment.instruction", "A81001", "QOX", "", ""}),
            (std::vector<std::string>{"finance", "everything"}));
}

TEST(RoutingTest, AlertLabelsAreTheUnionOfMatchingRoutesLaterWinning) {
  Routing r = Good();
  EXPECT_EQ(r.AlertLabelsFor({"flag.raised", "A81001", "QHM", "dup", "critical"}),
            (std::map<std::string, std::string>{{"team", "jane"}, {"watchlist", "jane"}}));
  EXPECT_EQ(r.AlertLabelsFor({"flag.raised", "B82005", "QHM", "dup", "critical"}),
            (std::map<std::string, std::string>{{"team", "qhm-contracts"}}));
  EXPECT_TRUE(r.AlertLabelsFor({"flag.raised", "B82005", "QOX", "dup", "critical"}).empty());
}

TEST(RoutingTest, NoRoutesMeansNothingIsSent) {
  auto r = Routing::Parse("endpoints:\n  a:\n    url: http://x:1/\n", "r.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->EndpointsFor({"flag.raised", "A81001", "QHM", "dup", "critical"}).empty());
}

// Each bad file, and the "<file>:<line>: <what>" it must be refused with.
struct Bad {
  const char* yaml;
  const char* error;
};

TEST(RoutingTest, ErrorsNameTheLine) {
  const Bad cases[] = {
      {"endpoints:\n  a:\n    url: ftp://x/\n", "r.yaml:3: endpoint 'a': url must start with"},
      {"endpoints:\n  a:\n    url: http://x/\n    colour: red\n",
       "r.yaml:4: endpoint 'a': unknown key 'colour'"},
      {"routes:\n  - name: x\n    endpoints: [nope]\n",
       "r.yaml:3: route 'x' endpoints: no endpoint named 'nope'"},
      {"endpoints:\n  a: {url: 'http://x/'}\nroutes:\n  - name: x\n    match:\n      severity: "
       "[high]\n    endpoints: [a]\n",
       "r.yaml:6: route 'x' severity: 'high' is not one of critical, info, warning"},
      {"watchlists:\n  j:\n    practices: [A81001, nonsense]\n",
       "r.yaml:3: watchlist 'j' practices:"},
      {"endpoints:\n  a: {url: 'http://x/'}\nroutes:\n  - name: x\n    match: {watchlist: k}\n    "
       "endpoints: [a]\n",
       "r.yaml:5: route 'x': no watch-list named 'k'"},
      {"endpoints:\n  a:\n    url: http://x/\n    signature: hmac\n",
       "r.yaml:3: endpoint 'a': signature hmac needs hmac_secret_files"},
      {"routes:\n  - name: x\n", "r.yaml:2: route 'x': names no endpoints"},
      {"endpoints:\n  a: {url: 'http://x/'}\nroutes:\n  - name: x\n    endpoints: [a]\n  - name: "
       "x\n    endpoints: [a]\n",
       "r.yaml:6: route 'x': duplicate name"},
      {"routes:\n  - name: x\n    alertmanager_labels: {9lives: y}\n",
       "r.yaml:3: route 'x': '9lives' is not a Prometheus label name"},
      {"routes: [\n", "r.yaml:2: not YAML"},
      {"nonsense: 1\n", "r.yaml:1: routing file: unknown key 'nonsense'"},
      {"endpoints:\n  a: {url: 'http://x/', events: [flag.eaten]}\n",
       "r.yaml:2: endpoint 'a' events: 'flag.eaten'"},
  };
  for (const Bad& b : cases) {
    auto r = Routing::Parse(b.yaml, "r.yaml");
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(b.error, 0), 0u)
        << "got: " << r.status().message() << "\nwant prefix: " << b.error;
  }
}

}  // namespace
}  // namespace probity::webhooks
