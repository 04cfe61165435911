"""gather_hosts: the hosts gathered together give exactly the frame of each host gathered alone.

The shared engine takes part twice, under two names, beside a host that cannot be reached.
The containers are created, never started (their status text does not move with the clock),
except one running container whose clock-driven columns are compared apart.
"""
from __future__ import annotations

import gc

import pandas as pd

import dockerenv
from runbook_lib import redact
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL, gather_inventory, gc_paused
from runbook_lib.multistack import gather_hosts

SHARED = "unix:///var/run/docker.sock"
CLOCK = ["uptime_s", "status_text"]  # move between two gatherings of a running container


def _frame(multi) -> pd.DataFrame:
    inv = multi.inventory
    return inv.sort_values(["host", "name"], kind="stable").reset_index(drop=True)


def test_together_equals_each_host_alone(containers, docker_client, tmp_path):
    project = f"rbgh{dockerenv.SESSION_ID[:6]}"
    secret = "Vq7Lm2Xr9TzK4wPc"  # strong: learned from one container's env, masked in another's command

    def labels(service: str) -> dict:
        return {PROJECT_LABEL: project, SERVICE_LABEL: service}
    # the env that reveals the secret comes first, so the list (newest first) shows the command before it
    made = [docker_client.containers.create(
        dockerenv.BUSYBOX_IMAGE, ["sleep", "1"], name=f"{project}-db", network_mode="none",
        labels={**labels("db"), dockerenv.TEST_LABEL_KEY: dockerenv.SESSION_ID},
        environment={"DB_PASSWORD": secret, "PATH": "/bin"})]
    for i in range(3):
        made.append(docker_client.containers.create(
            dockerenv.BUSYBOX_IMAGE, ["sh", "-c", f"echo {secret} {i}"], name=f"{project}-app{i}",
            network_mode="none", labels={**labels(f"app{i}"), dockerenv.TEST_LABEL_KEY: dockerenv.SESSION_ID}))
    running = containers(["sleep", "600"], name="ghrun", labels=labels("run"), network_mode="none")
    try:
        hosts = [f"a={SHARED}", f"b={SHARED}", f"gone=unix://{tmp_path}/no-engine.sock"]
        together = gather_hosts(hosts, project=project, load_compose=False, engine_timeout_s=10)
        alone = [gather_hosts([h], project=project, load_compose=False, engine_timeout_s=10) for h in hosts]

        got = _frame(together)
        want = pd.concat([m.inventory for m in alone], ignore_index=True)
        want = want.sort_values(["host", "name"], kind="stable").reset_index(drop=True)
        assert list(got.columns) == list(want.columns) and len(got) == 11
        pd.testing.assert_frame_equal(got.drop(columns=CLOCK), want.drop(columns=CLOCK))
        still = got["name"] != running.name  # created only: even the clock's columns agree
        pd.testing.assert_frame_equal(got.loc[still, CLOCK], want.loc[still, CLOCK])
        assert got.loc[~still, "uptime_s"].notna().all()

        gone = got[got["host"] == "gone"].iloc[0]
        assert gone["state"] == "unknown" and "no-engine.sock" in gone["status_text"]
        assert together.status == "degraded" and [r.split(":")[0] for r in together.degraded_reasons] == ["host gone"]
        assert together.notes == [n for m in alone for n in m.notes]
        for host in ("a", "b"):
            mine = got[got["host"] == host].set_index("service")
            assert sorted(mine.index) == ["app0", "app1", "app2", "db", "run"]
            assert all(secret not in c and redact.MASK in c for c in mine.loc[["app0", "app1", "app2"], "command"])
    finally:
        for c in made:
            c.remove(force=True)


def test_gc_paused_is_counted_across_users():
    was = gc.isenabled()
    gc.enable()
    try:
        with gc_paused():
            assert not gc.isenabled()
            with gc_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the outer user still holds it
        assert gc.isenabled()
        gc.disable()
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        (gc.enable if was else gc.disable)()


def test_a_fresh_redactor_learns_and_masks_again(containers, docker_client, monkeypatch):
    """What the process has learned once is skipped, but only for the redactor that learned it."""
    project = f"rbgf{dockerenv.SESSION_ID[:6]}"
    secret = "Hw3Rk8Pz6Nq1Yt5B"
    containers(["sh", "-c", f"echo {secret} && sleep 600"], name="ghfresh", network_mode="none",
               labels={PROJECT_LABEL: project, SERVICE_LABEL: "api"}, environment={"API_TOKEN": secret})
    first = gather_inventory(docker_client, project=project)
    assert secret not in first.loc[0, "command"]
    fresh = redact.Redactor()
    for name in ("learn_env", "learn_command", "learn_identifiers", "mask_text", "mask_obj"):
        monkeypatch.setattr(redact, name, getattr(fresh, name))
    again = gather_inventory(docker_client, project=project)
    assert secret not in again.loc[0, "command"] and redact.MASK in again.loc[0, "command"]
    assert fresh.known_count >= 1
