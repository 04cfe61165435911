"""The demo's images: a FROM-scratch busybox image, and the host's real servers copied into images.

No registry is needed: the base image holds the host's static busybox; postgres and
redis images hold the host's binaries, the shared libraries ``ldd`` lists and postgres'
share folder, FROM the base image, cached by a recipe hash label (a change rebuilds).
Without the host binaries an infrastructure service gets an alias tag of the base image
and runs its stand-in script.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.demo.services import (DEMO_IMAGE, DEMO_LABEL_KEY, PG_DATA, DemoError, host_postgres,
                                       host_redis, services)
from runbook_lib.engine import dockerpy

# -- image ---------------------------------------------------------------------------
def _busybox_path() -> str:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return p
    raise DemoError("static busybox not found on this host. Fix: apt-get install busybox-static "
                    "(or busybox), then run `runbook demo up` again.")


def ensure_image(client, tag: str = DEMO_IMAGE, labels: dict[str, str] | None = None) -> str:
    """Build the FROM scratch busybox image unless it exists (no registry needed).

    ``labels`` defaults to the demo's own label; the tests build their image with none.
    """
    try:
        client.images.get(tag)
        return tag
    except dockerpy.errors().ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(_busybox_path(), Path(d) / "busybox")
        (Path(d) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "RUN mkdir -p /tmp /www /var/log && chmod 1777 /tmp\n"
            + "".join(f'LABEL {k}="{v}"\n' for k, v in ({DEMO_LABEL_KEY: "1"} if labels is None else labels).items())
            + 'CMD ["/bin/sh"]\n')
        try:
            client.images.build(path=d, tag=tag, rm=True, forcerm=True)
        except dockerpy.errors().BuildError as exc:
            raise DemoError(f"building {tag} failed: {exc}. Fix: check that /bin/busybox is the static "
                            "build (busybox-static).") from exc
    return tag


RECIPE_LABEL = "runbook.demo.recipe"
SERVER_LABEL = "runbook.demo.server"
_PASSWD = "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh\n"
_GROUP = "root:x:0:\npostgres:x:999:\n"


@dataclass(frozen=True)
class ServerRecipe:
    """A real server copied from the host into an image FROM the demo busybox image."""

    server: str  # what it is, e.g. "PostgreSQL 15" (label runbook.demo.server)
    files: tuple[tuple[str, str], ...]  # (path in the image, host path)
    texts: tuple[tuple[str, str], ...] = ()  # (path in the image, content)
    links: tuple[tuple[str, str], ...] = ()  # (link path, target)
    run: str = ""  # shell run once at build time

    def digest(self, base_id: str) -> str:
        """A hash of the recipe and of the host files it copies (size, mtime): a change rebuilds."""
        h = hashlib.sha256(f"{base_id}\n{self.server}\n{self.run}\n".encode())
        for dest, src in self.files:
            st = os.stat(src)
            h.update(f"{dest}\0{src}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        for dest, text in self.texts:
            h.update(f"{dest}\0{text}\n".encode())
        for link, target in self.links:
            h.update(f"{link}\0{target}\n".encode())
        return h.hexdigest()[:16]


def _ldd(binaries: list[str]) -> list[str]:
    """The shared libraries the binaries load (``ldd``), the loader included."""
    out: set[str] = set()
    for b in binaries:
        res = subprocess.run(["ldd", b], capture_output=True, text=True, timeout=30, check=False)
        for line in res.stdout.splitlines():
            line = line.strip()
            if "=>" in line:
                path = line.split("=>", 1)[1].split("(")[0].strip()
            else:
                path = line.split("(")[0].strip()
            if path.startswith("/") and os.path.exists(path):
                out.add(path)
    return sorted(out)


def _postgres_recipe() -> ServerRecipe | None:
    pg = host_postgres()
    if pg is None or not shutil.which("ldd"):
        return None
    bins = [f"{pg['bindir']}/{b}" for b in ("postgres", "initdb", "pg_isready")
            if os.access(f"{pg['bindir']}/{b}", os.X_OK)]
    files = [(b, b) for b in bins] + [(lib, lib) for lib in _ldd(bins)]
    for mod in ("plpgsql.so", "dict_snowball.so"):  # initdb loads these
        if os.path.exists(f"{pg['lib']}/{mod}"):
            files.append((f"{pg['lib']}/{mod}", f"{pg['lib']}/{mod}"))
    for root, dirs, names in os.walk(pg["share"]):
        dirs[:] = [x for x in dirs if x != "man"]
        files += [(os.path.join(root, n), os.path.realpath(os.path.join(root, n))) for n in names]
    for tz in ("Etc/UTC", "UTC", "GMT", "Etc/GMT"):
        src = f"/usr/share/zoneinfo/{tz}"
        if os.path.exists(src):
            files.append((src, os.path.realpath(src)))
    links = (("/usr/local/bin/pg_isready", f"{pg['bindir']}/pg_isready"),) if f"{pg['bindir']}/pg_isready" in bins else ()
    return ServerRecipe(server=f"PostgreSQL {pg['version']}", files=tuple(files),
                        texts=(("/etc/passwd", _PASSWD), ("/etc/group", _GROUP)), links=links,
                        run=f"mkdir -p {PG_DATA} && chown -R 999:999 /var/lib/postgresql && chmod 700 {PG_DATA}")


def _redis_recipe() -> ServerRecipe | None:
    binary = host_redis()
    if binary is None or not shutil.which("ldd"):
        return None
    files = [("/usr/bin/redis-server", binary)] + [(lib, lib) for lib in _ldd([binary])]
    try:  # Redis server v=7.0.15 sha=...
        out = subprocess.run([shutil.which("redis-server") or binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
        version = next((w[2:] for w in out.split() if w.startswith("v=")), "")
    except (OSError, subprocess.SubprocessError):
        version = ""
    return ServerRecipe(server=f"Redis {version}".strip(), files=tuple(files))


_RECIPES = {"postgres": _postgres_recipe, "redis": _redis_recipe}


def _build_server_image(client, tag: str, base: str, recipe: ServerRecipe, digest: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "rootfs"
        for dest, src in recipe.files:
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)  # follows symlinks: the library itself under the name ldd printed
        for dest, text in recipe.texts:
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for link, target_path in recipe.links:
            p = root / link.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target_path, p)
        run = f"RUN {recipe.run}\n" if recipe.run else ""
        (Path(d) / "Dockerfile").write_text(
            f"FROM {base}\nCOPY rootfs/ /\n{run}"
            f'LABEL {DEMO_LABEL_KEY}="1" {RECIPE_LABEL}="{digest}" {SERVER_LABEL}="{recipe.server}"\n'
            'CMD ["/bin/sh"]\n')
        try:
            client.images.build(path=d, tag=tag, rm=True, forcerm=True, pull=False)
        except dockerpy.errors().BuildError as exc:
            raise DemoError(f"building {tag} ({recipe.server} from the host) failed: {exc}") from exc


def ensure_images(client, base: str = DEMO_IMAGE) -> dict[str, str]:
    """The base image, plus per infrastructure service either an image holding the host's real
    server (postgres, redis; rebuilt when the recipe or the host files change) or an alias tag
    of the base image. Returns service → what serves it ("PostgreSQL 15", "stand-in")."""
    ensure_image(client, base)
    img = client.images.get(base)
    out: dict[str, str] = {}
    for s in services():
        alias = s.image(base)
        if alias == base:
            continue
        try:
            current = client.images.get(alias)
        except dockerpy.errors().ImageNotFound:
            current = None
        recipe = _RECIPES[s.name]() if s.name in _RECIPES else None
        if recipe is None:
            if current is None or current.id != img.id:
                repo, tag = alias.rsplit(":", 1)
                img.tag(repo, tag)
            out[s.name] = "stand-in"
            continue
        digest = recipe.digest(img.id)
        labels = (current.labels or {}) if current is not None else {}
        if labels.get(RECIPE_LABEL) != digest:
            _build_server_image(client, alias, base, recipe, digest)
            if current is not None and labels.get(RECIPE_LABEL) and current.id != img.id:
                try:  # the superseded demo image, unless a container still uses it (never forced)
                    client.images.remove(current.id, noprune=False)
                except dockerpy.api_errors():
                    pass
        out[s.name] = recipe.server
    return out
