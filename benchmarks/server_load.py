"""Load on the cgtqc server over loopback: lot list, lot page and result posts with concurrent clients.

For each backend (SQLite file; PostgreSQL on a temporary server started here, as the test suite does) the
script seeds LOTS lots of the MSC product through the audited store (each with every test but endotoxin
entered), starts ``cgtqc serve`` in its own process on 127.0.0.1, logs CLIENTS clients in (bearer tokens),
then runs three phases, each a fixed number of requests spread over the clients (one keep-alive
connection each, asyncio; :class:`Client`):

- ``GET /api/v1/lots?limit=50``           the lot list (first page, with the status counts)
- ``GET /api/v1/lots/{lot}``              the lot page: every test, result, verdict and provenance
- ``POST /api/v1/lots/{lot}/results``     a manual endotoxin result on a lot that has none (all distinct)

The lot page is read cold first (every lot once, in random order: the first read of each lot since the
server started, so each one is computed; the server memoises a lot page per audit chain head; half of the
lots saturating, half paced) and then warm (random lots, memoised). The read phases run saturating (each
client sends its next request as soon as the last answered) and paced (each client waits a random
0..2x``--think`` seconds between requests, as a person at a page does). With ``--workers N`` the PostgreSQL
server runs N processes (``cgtqc serve --workers``). It prints requests/s, p50/p99 latency, the server's
and the client's CPU time per request and the load average, then stops the server and verifies the audit
chain (``audit.verify``: hash chain, every audited row replayed) and the result rows.

    .venv/bin/python benchmarks/server_load.py                 # both backends, 1,000 lots, 50 clients
    .venv/bin/python benchmarks/server_load.py --backend sqlite --lots 200 --requests 500
    .venv/bin/python benchmarks/server_load.py --backend postgresql --workers 2

Traffic goes to 127.0.0.1 only; every loop is bounded by its request count and a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

from cgtqc import __version__
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance
from cgtqc.store import audit
from cgtqc.store.db import engine, migrate, session_scope
from cgtqc.store.models import Lot, Result
from cgtqc.store.users import create_user

PASSWORD = "bench-password"
ANALYSTS = [f"analyst{i}" for i in range(5)]
SEEDED = {  # every MSC test but endotoxin, which the post phase enters
    ("viable_cell_concentration", "release"): (4.2, "x10^6 cells/mL"),
    ("viability", "release"): (91.0, "%"),
    ("viability", "in-process: passage 2 harvest"): (93.0, "%"),
    ("msc_identity", "release"): ("Conforms", ""),
    ("msc_immunosuppression", "release"): (45.0, "%"),
    ("tert_mrna", "release"): ("Not detected", ""),
    ("karyotype", "release"): ("Conforms", ""),
    ("adventitious_virus", "release"): ("Not detected", ""),
    ("sterility", "release"): ("No growth", ""),
    ("mycoplasma", "release"): ("Not detected", ""),
}
TIME_LIMIT_S = 600  # per phase: the loop stops by itself
KEEPALIVE_S = 3.0
"""A client drops its idle connection before uvicorn does (5 s): a request sent on a connection the server is
closing at that moment fails with 'Server disconnected without sending a response' (two runs did, at the
first request after the 50 logins)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TemporaryPostgres:
    """A PostgreSQL server of Debian's package in a temporary folder on a loopback port (run as the
    postgres user when this runs as root), stopped and removed on exit."""

    def __enter__(self) -> str:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="cgtqc-bench-pg-"))
        self.data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(sock, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        initdb = [
            *self.run_as,
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
        ]
        subprocess.run(initdb, check=True, capture_output=True)
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
        start = [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log")]
        subprocess.run([*start, "-w", "-o", opts, "start"], check=True, capture_output=True)
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def __exit__(self, *exc: object) -> None:
        stop = [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def new_database(base_url: str, name: str) -> str:
    """Another database on the same PostgreSQL server (a second run starts from an empty store)."""
    eng = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def seed(url: str, lots: int) -> list[str]:
    """Users and ``lots`` MSC lots with every test but endotoxin, all through the audit trail."""
    migrate(url)
    with session_scope(url) as s:
        create_user(s, "admin", "Ada Admin", "admin", PASSWORD, by="admin")
        for name in ANALYSTS:
            create_user(s, name, name.title(), "analyst", PASSWORD, by="admin")
        service.specification_for(s, "msc")  # registers the template version once
    numbers = [f"MSC-{i:05d}" for i in range(lots)]
    for start in range(0, lots, 200):
        with session_scope(url) as s:
            for number in numbers[start : start + 200]:
                lot = audit.add(
                    s,
                    Lot(
                        lot_number=number,
                        product="msc",
                        spec_version="1.0",
                        site="Basel",
                        created_by="analyst0",
                    ),
                    "analyst0",
                    "lot created",
                )
                for (cqa, stage), (value, unit) in SEEDED.items():
                    m = Measurement(cqa, value, unit, Provenance("manual-entry", __version__, {}))
                    numeric = not isinstance(value, str)
                    row = Result(
                        lot_id=lot.id,
                        cqa=cqa,
                        stage=stage,
                        value=repr(value) if numeric else value,
                        numeric=numeric,
                        unit=unit,
                        provenance_json=json.dumps(m.provenance.to_dict(), sort_keys=True),
                        entered_by="analyst0",
                    )
                    audit.add(s, row, "analyst0", "result entered")
    return numbers


SERVER_LOG = Path(tempfile.gettempdir()) / "cgtqc-bench-server.log"
"""The server's standard error (uvicorn's log), printed when a phase fails (an unread pipe would fill)."""


def start_server(url: str, port: int, workers: int = 1) -> subprocess.Popen:
    cgtqc = Path(sys.executable).with_name("cgtqc")
    log = SERVER_LOG.open("wb")
    proc = subprocess.Popen(
        [
            str(cgtqc),
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--insecure-cookies",
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start: {SERVER_LOG.read_text()[-2000:]}")


class Client:
    """One keep-alive HTTP/1.1 connection to the server, written on asyncio streams for the load generator:
    httpx spent 1.1-1.6 ms of CPU per request on the cores the server shares, this ~0.1 ms. It sends
    Content-Length bodies and reads Content-Length answers (what uvicorn sends for these routes); it
    reconnects when the server closes or the connection idled longer than ``KEEPALIVE_S``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.headers = b""
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last = 0.0

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._conn is not None and time.monotonic() - self._last > KEEPALIVE_S:
            await self.aclose()
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port)
        return self._conn

    async def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n".encode() + self.headers
        if data is not None:
            head += b"Content-Type: application/x-www-form-urlencoded\r\n"
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        reader, writer = await self._connection()
        writer.write(head + body)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError(f"{method} {path}: the server closed the connection")
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        answer = await reader.readexactly(length)
        self._last = time.monotonic()
        if close:
            await self.aclose()
        return int(status_line.split()[1]), answer

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


async def login(host: str, port: int, clients: int) -> list[Client]:
    out = []
    for k in range(clients):
        c = Client(host, port)
        user = ANALYSTS[k % len(ANALYSTS)]
        status, body = await c.request("POST", "/api/v1/auth/token", {"username": user, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"login of {user} failed: {status} {body[:200]!r}")
        c.headers = f"Authorization: Bearer {json.loads(body)['access_token']}\r\n".encode()
        out.append(c)
    return out


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> set[int]:
    """The process and its live descendants (the server's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                children.setdefault(int(_stat(int(d.name))[1]), []).append(int(d.name))
            except (OSError, IndexError):
                continue
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants (the workers) so far (Linux /proc)."""
    total = 0
    for p in descendants(pid):
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def phase(
    clients: list[Client], requests: list[tuple[str, str, dict | None]], pid: int, think: float = 0.0
) -> dict:
    """Run ``requests`` (method, path, kwargs) over the clients, each client one request at a time; with
    ``think`` each client waits a random 0..2*think seconds between its requests (a person, not a loop)."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + TIME_LIMIT_S

    rng = random.Random(11)

    async def worker(c: Client) -> None:
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))
        while not queue.empty() and time.monotonic() < deadline:
            method, path, data = queue.get_nowait()
            t0 = time.perf_counter()
            status, body = await c.request(method, path, data)
            latencies.append(time.perf_counter() - t0)
            if status >= 400:
                errors.append(f"{method} {path}: {status} {body[:120]!r}")
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))

    t0, cpu0, own0 = time.perf_counter(), cpu_seconds(pid), time.process_time()
    await asyncio.gather(*(worker(c) for c in clients))
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    own = time.process_time() - own0
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "rps": len(lat) / wall,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "wall_s": wall,
        "server_cpu_ms": 1000 * cpu / max(1, len(lat)),
        "client_cpu_ms": 1000 * own / max(1, len(lat)),
        "load_1min": os.getloadavg()[0],
    }


async def load(port: int, pid: int, numbers: list[str], args: argparse.Namespace, workers: int) -> dict:
    rng = random.Random(7)
    cs = await login("127.0.0.1", port, args.clients)
    n = args.requests
    lot_list = ("GET", "/api/v1/lots?limit=50", None)
    try:
        order = rng.sample(numbers, len(numbers))
        warm, cold = order[: args.clients], order[args.clients :]  # warm-up lots are not read cold
        await phase(cs, [("GET", f"/api/v1/lots/{x}", None) for x in warm] + [lot_list] * args.clients, pid)
        label = f"think {args.think:g} s"
        half = len(cold) // 2 if args.think else len(cold)  # paced: the other half, still never read
        out = {
            "lot page, cold": await phase(cs, [("GET", f"/api/v1/lots/{x}", None) for x in cold[:half]], pid)
        }
        if args.think:
            pages = [("GET", f"/api/v1/lots/{x}", None) for x in cold[half:]]
            out[f"lot page, cold, {label}"] = await phase(cs, pages, pid, args.think)
        out["lot list"] = await phase(cs, [lot_list] * n, pid)
        pages = [("GET", f"/api/v1/lots/{rng.choice(numbers)}", None) for _ in range(n)]
        out["lot page, warm"] = await phase(cs, pages, pid)
        if workers > 1:  # each worker's own memo: the first warm pass filled the other half
            pages = [("GET", f"/api/v1/lots/{rng.choice(numbers)}", None) for _ in range(n)]
            out["lot page, warm, 2nd pass"] = await phase(cs, pages, pid)
        if args.think:
            paced = n // 2
            out[f"lot list, {label}"] = await phase(cs, [lot_list] * paced, pid, args.think)
            pages = [("GET", f"/api/v1/lots/{rng.choice(numbers)}", None) for _ in range(paced)]
            out[f"lot page, warm, {label}"] = await phase(cs, pages, pid, args.think)
        targets = rng.sample(numbers, min(args.posts, len(numbers)))
        data = {"cqa": "endotoxin", "value": "0.4", "unit": "EU/mL"}
        posts = [("POST", f"/api/v1/lots/{t}/results", data) for t in targets]
        out["result post"] = await phase(cs, posts, pid)
        return out
    finally:
        for c in cs:
            await c.aclose()


def run_backend(name: str, url: str, args: argparse.Namespace, workers: int = 1) -> dict:
    t0 = time.perf_counter()
    numbers = seed(url, args.lots)
    seeded_s = time.perf_counter() - t0
    engine(url).dispose()
    port = free_port()
    server = start_server(url, port, workers)
    before = descendants(server.pid)
    try:
        try:
            figures = asyncio.run(load(port, server.pid, numbers, args, workers))
        except Exception:
            print(f"load failed; the server's log ends:\n{SERVER_LOG.read_text()[-4000:]}", file=sys.stderr)
            raise
        restarted = len(before - descendants(server.pid))  # a worker killed and replaced by uvicorn
    finally:
        server.terminate()
        server.wait(30)
    t0 = time.perf_counter()
    with session_scope(url) as s:
        problems = audit.verify(s)
        results = s.execute(select(func.count()).select_from(Result)).scalar()
        entries = len(audit.log(s))
    verify_s = time.perf_counter() - t0
    expected = args.lots * len(SEEDED) + figures["result post"]["requests"] - figures["result post"]["errors"]
    return {
        "backend": name if workers == 1 else f"{name} x{workers}",
        "workers": workers,
        "load_average": os.getloadavg(),
        "lots": args.lots,
        "clients": args.clients,
        "seed_s": seeded_s,
        "phases": figures,
        "audit_entries": entries,
        "audit_intact": not problems,
        "audit_problems": [str(p) for p in problems[:3]],
        "verify_s": verify_s,
        "results_rows_ok": results == expected,
        "processes_replaced": restarted,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--lots", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000, help="requests per read phase")
    ap.add_argument("--posts", type=int, default=500, help="result posts (distinct lots)")
    ap.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="server processes on PostgreSQL, one run each"
    )
    ap.add_argument(
        "--think", type=float, default=1.0, help="also read with this mean think time per client (0: no)"
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/server_load.json"))
    args = ap.parse_args()
    reports = []
    with tempfile.TemporaryDirectory(prefix="cgtqc-bench-") as tmp:
        if args.backend in ("sqlite", "both"):
            reports.append(run_backend("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args))
        if args.backend in ("postgresql", "both"):
            with TemporaryPostgres() as pg:
                for workers in args.workers:
                    db = pg if workers == args.workers[0] else new_database(pg, f"bench_w{workers}")
                    reports.append(run_backend("postgresql", db, args, workers))
    head = f"{'backend':<14} {'phase':<28} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8}"
    print(head + f" {'p99 ms':>8} {'server CPU ms/req':>18} {'client CPU':>10} {'load':>5}")
    for rep in reports:
        for label, f in rep["phases"].items():
            print(
                f"{rep['backend']:<14} {label:<28} {f['requests']:>8} {f['errors']:>6} {f['rps']:>8.1f} "
                f"{f['p50_ms']:>8.1f} {f['p99_ms']:>8.1f} {f['server_cpu_ms']:>18.1f} "
                f"{f['client_cpu_ms']:>10.1f} {f['load_1min']:>5.1f}"
            )
        state = "intact" if rep["audit_intact"] else f"BROKEN {rep['audit_problems']}"
        print(
            f"{rep['backend']}: {rep['lots']} lots seeded in {rep['seed_s']:.1f} s; audit trail {state} "
            f"({rep['audit_entries']} entries, verified in {rep['verify_s']:.1f} s); result rows "
            + ("as expected" if rep["results_rows_ok"] else "MISMATCH")
            + "; load average at the end {:.1f} {:.1f} {:.1f}".format(*rep["load_average"])
            + f"; server processes replaced during the run: {rep['processes_replaced']}"
        )
        for label, f in rep["phases"].items():
            if f["first_error"]:
                print(f"  {label} first error: {f['first_error']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
