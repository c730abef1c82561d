"""Checks of deploy/ that need more than one tool call: the systemd units (systemd-analyze verify,
with the unit's binary pointed at the one just built, and any warning about a unit is a failure;
plus the hardening every unit must keep), and the compose file (python3-yaml: its structure, and
that it names what exists: every service it depends on, every volume it mounts, every Probity
command the binary knows, exactly the topics of common/bus/topics.h with their partition counts).

The metrics check: every probity_* series the alerting rules and the scrape configuration's
tests use is registered by Probity's own code (a `.Name("...")` in common/ or services/), so an
alert cannot watch a name no target exports.

Run: deploy_checks.py <repo root> <probity binary> (systemd|compose|metrics)
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
import unittest

import yaml

ROOT = None
PROBITY = None

# Every target that runs as a service has deploy/systemd/probity-<target>.service; those the
# commissioner runs on one host also have a compose service of the same name (a witness is run by
# someone else, on their own machine; a replica usually at another site).
TARGETS = ["ingest", "rules", "alerts", "webhooks", "payments", "api", "tiles", "replica",
           "witness"]
COMPOSE_TARGETS = [t for t in TARGETS if t not in ("replica", "witness")]

HARDENING = [
    "User=probity", "Group=probity", "ProtectSystem=strict", "NoNewPrivileges=true",
    "ProtectHome=true", "PrivateTmp=true", "CapabilityBoundingSet=",
]


def check_command_line(test, argv, target):
    """argv (after the binary) runs `target` with options the binary knows, --config first: each
    --option is listed by `probity --help` (global) or `probity <target> --help`. (Running the
    command with --help would not do: CLI11 answers --help before it looks at the rest.)"""
    test.assertIn(target, argv)
    i = argv.index(target)
    for where, opts in (("probity", argv[:i]), ("probity " + target, argv[i + 1:])):
        r = subprocess.run([PROBITY, *where.split()[1:], "--help"], capture_output=True,
                           text=True)
        test.assertEqual(r.returncode, 0, r.stderr)
        for o in opts:
            if o.startswith("--"):
                test.assertRegex(r.stdout, r"(^|[\s,])%s\b" % re.escape(o.split("=")[0]),
                                 "%s does not take %s" % (where, o))


def topics_h():
    """{topic: partitions} from common/bus/topics.h."""
    text = open(os.path.join(ROOT, "common/bus/topics.h")).read()
    names = dict(re.findall(r'(k\w+Topic)\s*=\s*"([^"]+)"', text.replace("\n", " ")))
    specs = re.findall(r"\{(k\w+Topic),\s*(\d+),", text)
    return {names[k]: int(p) for k, p in specs}


class SystemdUnits(unittest.TestCase):
    def units(self):
        d = os.path.join(ROOT, "deploy/systemd")
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".service"))

    def test_there_is_a_unit_for_every_target(self):
        names = [os.path.basename(u) for u in self.units()]
        self.assertEqual(names, sorted(f"probity-{t}.service" for t in TARGETS))

    def test_units_verify_cleanly_with_systemd_analyze(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for u in self.units():
                text = open(u).read().replace("/usr/local/bin/probity", PROBITY)
                p = os.path.join(tmp, os.path.basename(u))
                open(p, "w").write(text)
                paths.append(p)
            r = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True,
                               text=True)
            ours = [l for l in (r.stdout + r.stderr).splitlines() if "probity-" in l]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(ours, [], "systemd-analyze warns about a unit")

    def test_every_unit_is_hardened_and_keeps_state_under_var_lib_probity(self):
        for u in self.units():
            target = os.path.basename(u)[len("probity-"):-len(".service")]
            lines = [l.strip() for l in open(u)]
            for want in HARDENING + [f"StateDirectory=probity/{target}"]:
                self.assertIn(want, lines, f"{u}: missing {want}")
            exec_start = [l for l in lines if l.startswith("ExecStart=")]
            self.assertEqual(len(exec_start), 1)
            argv = shlex.split(exec_start[0][len("ExecStart="):])
            self.assertEqual(argv[0], "/usr/local/bin/probity")
            check_command_line(self, argv[1:], target)


    def test_example_config_names_only_options_its_commands_take(self):
        with open(os.path.join(ROOT, "deploy/config/probity.toml"), "rb") as f:
            config = tomllib.load(f)
        self.assertEqual(sorted(config), sorted(TARGETS))
        for target, keys in config.items():
            check_command_line(self, [target] + ["--" + k for k in keys], target)
            if target not in ("ingest", "tiles", "witness"):
                self.assertIn("log-key", keys, f"[{target}] follows the log: it needs log-key")

    def test_ports_do_not_clash(self):
        defaults = {}
        for t in TARGETS:
            r = subprocess.run([PROBITY, t, "--help"], capture_output=True, text=True)
            for m in re.finditer(r"--(http-port|api-port) INT\S*=(\d+)", r.stdout):
                defaults.setdefault(m.group(2), []).append(f"{t} --{m.group(1)}")
        for port, users in defaults.items():
            self.assertEqual(len(users), 1, f"default port {port} is taken by {users}")


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = os.path.join(ROOT, "deploy/compose/compose.yaml")
        cls.doc = yaml.safe_load(open(cls.path))

    def test_services_and_images(self):
        s = self.doc["services"]
        for name in ["kafka", "topics", "prometheus", "alertmanager", *COMPOSE_TARGETS]:
            self.assertIn(name, s)
            self.assertIn("image", s[name], name)
        self.assertEqual(s["kafka"]["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller",
                         "Kafka runs in KRaft mode")

    def test_dependencies_and_volumes_exist(self):
        s = self.doc["services"]
        volumes = set(self.doc.get("volumes") or {})
        for name, svc in s.items():
            deps = svc.get("depends_on") or {}
            for dep in (deps if isinstance(deps, (list, dict)) else []):
                self.assertIn(dep, s, f"{name} depends on unknown service {dep}")
            for v in svc.get("volumes") or []:
                src = v.split(":")[0]
                if src.startswith(".") or src.startswith("/"):
                    full = os.path.normpath(os.path.join(os.path.dirname(self.path), src))
                    self.assertTrue(os.path.exists(full), f"{name} mounts missing {full}")
                else:
                    self.assertIn(src, volumes, f"{name} mounts undeclared volume {src}")

    def test_probity_services_run_commands_the_binary_knows_with_state_in_their_volume(self):
        s = self.doc["services"]
        for t in COMPOSE_TARGETS:
            cmd = s[t]["command"]
            check_command_line(self, cmd, t)
            state = {"api": "--api-state-dir", "tiles": None}.get(t, "--data-dir")
            if state is not None:
                data_dir = cmd[cmd.index(state) + 1]
                self.assertTrue(any(v.endswith(":" + data_dir) for v in s[t]["volumes"]),
                                f"{t}: {data_dir} is not a volume")
            if t not in ("ingest", "tiles"):
                key = cmd[cmd.index("--log-key") + 1]
                self.assertTrue(key.startswith("/var/lib/probity/ingest/"), key)
                self.assertIn("ingest-data:/var/lib/probity/ingest:ro", s[t]["volumes"],
                              f"{t} reads the log's key from the ingest volume")
            self.assertEqual(s[t]["depends_on"]["topics"]["condition"],
                             "service_completed_successfully")

    def test_topics_created_are_exactly_probitys(self):
        script = self.doc["services"]["topics"]["command"][0]
        created = {m.group(1): int(m.group(2)) for m in re.finditer(
            r"--topic (\S+) --partitions (\d+)", script)}
        self.assertEqual(created, topics_h())

    def test_prometheus_and_alertmanager_configs_are_the_checked_ones(self):
        s = self.doc["services"]
        self.assertIn("../prometheus:/etc/prometheus:ro", s["prometheus"]["volumes"])
        self.assertIn("../alertmanager:/etc/alertmanager:ro", s["alertmanager"]["volumes"])
        prom = yaml.safe_load(open(os.path.join(ROOT, "deploy/prometheus/prometheus.yml")))
        scraped = {t for job in prom["scrape_configs"] for sc in job["static_configs"]
                   for t in sc["targets"]}
        for t in COMPOSE_TARGETS:
            if t == "tiles":
                continue  # serves /checkpoint and tiles only, no /metrics
            cmd = s[t]["command"]
            port = cmd[cmd.index("--http-port") + 1]
            self.assertIn(f"{t}:{port}", scraped)


class MetricNames(unittest.TestCase):
    def registered(self):
        names = set()
        for top in ("common", "services"):
            for d, _, files in os.walk(os.path.join(ROOT, top)):
                for f in files:
                    if f.endswith((".cc", ".h")):
                        text = open(os.path.join(d, f)).read()
                        names.update(re.findall(r'\.Name\(\s*"(probity_\w+)"', text))
        return names

    def used(self, path):
        text = open(os.path.join(ROOT, path)).read()
        return set(re.findall(r"\b(probity_[a-z0-9_]+)", text))

    def test_every_metric_an_alert_uses_is_registered(self):
        registered = self.registered()
        self.assertIn("probity_log_size", registered)  # the scan itself works
        for path in ("deploy/prometheus/probity-alerts.yml", "tests/deploy/probity-alerts.test.yml"):
            for name in sorted(self.used(path)):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertTrue(name in registered or base in registered,
                                f"{path} uses {name}, which no target registers")


if __name__ == "__main__":
    ROOT, PROBITY, which = sys.argv[1], sys.argv[2], sys.argv[3]
    suite = unittest.TestLoader().loadTestsFromTestCase(
        {"systemd": SystemdUnits, "compose": ComposeFile, "metrics": MetricNames}[which])
    sys.exit(0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1)
