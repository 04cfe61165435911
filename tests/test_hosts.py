"""Several engines in one frame: host naming, and real engines (unix://, tcp://, tcp:// with TLS).

The extra engines run in their own network namespaces (tests/swarmenv.py); one is stopped
mid-test to check the degraded path. The shared engine takes part as one host.
"""
from __future__ import annotations

import subprocess

import pytest

import dockerenv
import swarmenv
from runbook_lib.analysis.hosts import kpis_by_host, kpis_by_host_project
from runbook_lib.config import parse_config
from runbook_lib.engine.audit import read_audit
from runbook_lib.engine.hosts import HostAudit, connect_host, parse_host, resolve_hosts
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL
from runbook_lib.exceptions import ConfigError
from runbook_lib.multistack import gather_hosts

SHARED = "unix:///var/run/docker.sock"


def test_parse_name_url_forms(tmp_path):
    a = parse_host("a=unix:///run/x.sock")
    assert (a.name, a.url, a.scheme, a.uses_tls) == ("a", "unix:///run/x.sock", "unix", False)
    b = parse_host(f"edge=tcp://10.0.0.5:2376?cert_path={tmp_path}")
    assert b.uses_tls and b.tls_cert == str(tmp_path / "cert.pem") and b.tls_ca == str(tmp_path / "ca.pem")
    assert b.url == "tcp://10.0.0.5:2376" and "cert_path" not in b.display_url
    c = parse_host("prod=ssh://ops@prod.example:2222")
    assert (c.scheme, c.name) == ("ssh", "prod")
    assert parse_host("tcp://10.1.2.3:2375").name == "10.1.2.3"
    assert parse_host("lab=/run/docker.sock").url == "unix:///run/docker.sock"
    for bad in ("x=ftp://h:1", "x=tcp://nohostport", "bad name=unix:///s", "x=ssh://", "x=tcp://h:1?tls_cert=/c"):
        with pytest.raises(ConfigError):
            parse_host(bad)


def test_resolve_precedence_and_duplicates(tmp_path):
    cfg = parse_config({"hosts": {"cfg1": "unix:///a.sock", "cfg2": {"url": "tcp://h:2376", "cert_path": "/c"}}})
    assert [h.name for h in resolve_hosts(None, cfg, environ={})] == ["cfg1", "cfg2"]
    assert resolve_hosts(None, cfg, environ={})[1].tls_key == "/c/key.pem"
    env = {"RUNBOOK_HOSTS": "e1=unix:///e1.sock, e2=ssh://u@e2"}
    assert [h.name for h in resolve_hosts(None, cfg, environ=env)] == ["e1", "e2"]
    assert [h.source for h in resolve_hosts(["c=unix:///c.sock"], cfg, environ=env)] == ["--host"]
    assert resolve_hosts(None, None, environ={}) == []
    with pytest.raises(ConfigError):
        resolve_hosts(["a=unix:///1", "a=unix:///2"], environ={})
    with pytest.raises(ConfigError):
        parse_config({"hosts": [{"name": "x"}]})


def test_docker_context_name(tmp_path, monkeypatch):
    subprocess.run(["docker", "--config", str(tmp_path), "context", "create", "labctx", "--docker",
                    "host=unix:///run/labctx.sock"], check=True, capture_output=True)
    (tmp_path / "config.json").write_text("{}")  # docker-py finds the context store beside it
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    spec = parse_host("labctx")
    assert (spec.name, spec.url, spec.source) == ("labctx", "unix:///run/labctx.sock", "context:labctx")
    with pytest.raises(ConfigError):
        parse_host("no-such-context")


def _tls_files(d, ip):
    def sh(*a):
        subprocess.run(list(a), cwd=d, check=True, capture_output=True)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
       "-days", "1", "-subj", "/CN=runbook-test-ca")
    for who, ext in (("server", f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n"),
                     ("client", "extendedKeyUsage=clientAuth\n")):
        (d / f"{who}.ext").write_text(ext)
        key, cert = ("server-key.pem", "server-cert.pem") if who == "server" else ("key.pem", "cert.pem")
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", f"{who}.csr", "-subj", f"/CN={who}")
        sh("openssl", "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
           "-out", cert, "-days", "1", "-extfile", f"{who}.ext")


@pytest.fixture(scope="module")
def engines(tmp_path_factory, docker_client, busybox_image):
    lab = swarmenv.new_lab("extra engines are")
    try:
        plain = lab.engine(tcp=True)
        certs = tmp_path_factory.mktemp("tls")
        ip = f"{lab.prefix}.{10 + len(lab.engines) + 1}"
        _tls_files(certs, ip)
        tls = lab.engine(tcp=True, extra_args=("--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert",
                                               str(certs / "server-cert.pem"), "--tlskey",
                                               str(certs / "server-key.pem")))
        assert tls.address == ip
        doomed = lab.engine()
        project = f"rbmh{dockerenv.SESSION_ID[:6]}"
        labels = {PROJECT_LABEL: project, SERVICE_LABEL: "web", dockerenv.TEST_LABEL_KEY: dockerenv.SESSION_ID}
        for url in (SHARED, plain.url, tls.url, doomed.url):
            client = connect_host(parse_host(f"x={url}"), 30)
            c = client.containers.run(dockerenv.BUSYBOX_IMAGE, ["sleep", "3600"], detach=True, labels=labels,
                                      network_mode="none", name=f"{project}-web-{abs(hash(url)) % 10000}")
            assert c.id
        yield {"lab": lab, "plain": plain, "tls": tls, "doomed": doomed, "certs": certs, "project": project}
    finally:
        dockerenv.cleanup(docker_client)
        lab.close()


def test_gather_four_hosts_one_frame_then_one_stopped(engines, tmp_path):
    e = engines
    hosts = [f"shared={SHARED}", f"plain={e['plain'].tcp_url}",
             f"secure={e['tls'].tcp_url}?cert_path={e['certs']}", f"doomed={e['doomed'].url}"]
    multi = gather_hosts(hosts, project=e["project"], load_compose=False, engine_timeout_s=10)
    assert multi.status == "ok", multi.degraded_reasons
    inv = multi.inventory
    assert list(inv.columns[:2]) == ["host", "project"]
    assert sorted(inv["host"]) == ["doomed", "plain", "secure", "shared"]
    # the same project name on four hosts stays four groups
    assert sorted(multi.projects()) == sorted((h, e["project"]) for h in ("doomed", "plain", "secure", "shared"))
    assert len(kpis_by_host_project(inv)) == 4
    assert multi.stacks["secure"].engine_url.startswith("https://")
    hf = multi.hosts_frame().set_index("host")
    assert hf["reachable"].all() and (hf["containers"] == 1).all()

    e["doomed"].stop()
    multi = gather_hosts(hosts, project=e["project"], load_compose=False, engine_timeout_s=5)
    assert multi.status == "degraded"
    assert len(multi.degraded_reasons) == 1 and multi.degraded_reasons[0].startswith("host doomed:")
    inv = multi.inventory
    doomed = inv[inv["host"] == "doomed"].iloc[0]
    assert doomed["state"] == "unknown" and doomed["status_text"]
    k = kpis_by_host(inv).set_index("host")
    assert not k.loc["doomed", "reachable"] and k.loc["doomed", "containers"] == 0
    assert k.loc["plain", "reachable"] and k.loc["plain", "running"] == 1 and k.loc["shared", "running"] == 1
    audit = multi.audit_for("plain", tmp_path / "audit.log")
    audit.event("restart", "web", "dry-run", "test", {"service": "web"}, dry_run=True)
    rec = read_audit(tmp_path / "audit.log").iloc[0]
    assert rec["params"] == {"service": "web", "engine_host": "plain"}


def test_tls_without_client_cert_is_refused(engines):
    multi = gather_hosts([f"secure={engines['tls'].tcp_url}?tls_ca={engines['certs']}/ca.pem"],
                         load_compose=False, engine_timeout_s=5)
    assert multi.status == "degraded" and "secure" in multi.degraded_reasons[0]


def test_host_audit_names_host(tmp_path):
    a = HostAudit("eu-1", tmp_path / "a.log")
    a.outcome(a.started("restart", "db", {"wave": 1}), "restart", "db", "ok")
    assert set(p["engine_host"] for p in read_audit(tmp_path / "a.log")["params"]) == {"eu-1"}
