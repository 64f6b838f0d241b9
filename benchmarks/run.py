#!/usr/bin/env python3
"""Benchmark driver: runs every benchmark program in build/bin, several rounds
interleaved, and writes

  build/bench/results.csv      every measurement (round,bench,impl,param,metric,value)
  build/bench/summary.md       the summary (medians over rounds, min-max spread)
  build/bench/*.dat, *.gp      gnuplot data and scripts
  docs/benchmarks/*.png        the plots
  docs/benchmarks.md           the part between <!-- results:begin/end -->

--quick is for developing this script: 1 round, fewer sizes, and it leaves
docs/ alone (plots go to build/bench/plots/) unless --write-docs is given.

Every process gets --timeout and a hard kill from here as well; every wait
for an output line is bounded; every process is killed by PID when done
(SIGCONT if stopped, SIGTERM, SIGKILL after 2 s). Python standard library
only. Progress goes to stderr, the summary to stdout.
"""

import argparse
import csv
import datetime
import math
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
GRACE = 5.0            # Python's hard kill comes this long after --timeout
KILL_WAIT = 2.0        # SIGTERM -> SIGKILL
BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"

SIZES = [16, 256, 4096, 65536, 1048576]
QUICK_SIZES = [16, 65536]
TP_IMPLS = ["raw", "zmq", "caf", "caf-stealing", "caf-batch"]
LAT_IMPLS = ["raw", "zmq", "caf", "caf-stealing", "caf-1thread"]
SCALE_SERVERS = ["raw", "caf", "caf-stealing"]
BENCHES = ["throughput", "latency", "scale", "reconnect", "stuck", "tls", "ws",
           "rpc", "http"]
TLS_SIZES = [65536, 1048576]
# The link comparison ("ws"): each link with the same caf programs, same round.
LINK_IMPLS = ["caf", "caf-tls", "caf-ws", "caf-wss"]
LINK_SIZES = [64, 65536]
# Calls (sessions) against libzmq's request/reply sockets, and session-mode
# one-way throughput beside plain.
SESSION = ["--netasync.session"]
CALL_INFLIGHT = [1, 64]
CALL_IMPLS = ["caf", "zmq-req", "zmq-dealer"]
SESSION_SIZES = [64, 65536]
LINK_SCALE_N = 10000
# HTTP: the server (netasync-http-server) beside nginx under `ab -k -c 50`,
# for a handler actor's small reply and a 4 KiB static file; the client
# (netasync-http, one URL after another over its pool) beside `ab -k -c 1`
# against nginx, and with the pool off.
HTTP_TARGETS = ["hello", "file"]
HTTP_SERVERS = ["caf", "nginx"]
HTTP_CLIENTS = ["caf", "caf-nopool", "ab"]
HTTP_SERVER_TARGET = {"hello": 0.5, "file": 0.7}  # x nginx, issue 20
TLS_HANDSHAKES = 1000     # connections opened at once for handshakes/s
COLOR = {"raw": "#000000", "zmq": "#e15759", "caf": "#4e79a7",
         "caf-stealing": "#59a14f", "caf-batch": "#f28e2b"}

# netasync::system_config defaults to the sharing scheduler; "caf-stealing"
# measures CAF's own default beside it.
STEALING = ["--scheduler.policy=stealing"]
ONE_THREAD = ["--scheduler.policy=sharing", "--scheduler.max-threads=1"]

# Targets: ratio of caf to raw msgs/s per payload size.
PLAIN_TARGET = {16: 0.05, 256: 0.20, 4096: 0.35, 65536: 0.40, 1048576: 0.75}
BATCH_TARGET = {16: 0.10, 256: 0.35, 4096: 0.60, 65536: 0.60, 1048576: 0.90}
LAT_TARGET = 2.0          # best caf setting, pinned p50 <= 2.0 x raw pinned p50
LAT_DEFAULT_TARGET = 2.5  # caf with system_config's defaults, pinned
ZMQ_LAT_REFERENCE = 2.9   # zmq p50 is about this x raw
SCALE_CPU_TARGET = 15.0   # % of one core, caf at 10000 connections
SCALE_BPC_TARGET = 2048   # bytes per connection, caf at 10000
CONNECT_TARGET = 1.5      # caf/raw time to establish 5000 connections


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


LOGFILE = None


def logfile(msg):
    if LOGFILE:
        LOGFILE.write(msg + "\n")
        LOGFILE.flush()


# ---- processes ---------------------------------------------------------------

LINE_RE = re.compile(r"^(\w+)((?:\s.*)?)$")
KV_RE = re.compile(r"(\w+)=(\S+)")


def parse_line(line):
    """'tag k=v k=v' -> (tag, {k: v}); a trailing t=... is taken as is."""
    m = LINE_RE.match(line.strip())
    if not m:
        return None, {}
    kv = dict(KV_RE.findall(m.group(2)))
    words = m.group(2).split()
    kv["_"] = words[0] if words and "=" not in words[0] else ""
    return m.group(1), kv


class Proc:
    """A child process whose stdout lines are read by a thread into a queue.
    `timeout` is what the program got as --timeout; Python kills it hard
    GRACE seconds after that."""

    def __init__(self, name, argv, timeout):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stopped = False
        self.lines = []
        self.err = []
        self.q = queue.Queue()
        logfile(f"start {name}: {shlex.join(self.argv)}")
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      bufsize=1)
        self.pid = self.popen.pid
        self.t_start = time.monotonic()
        self.deadline = self.t_start + timeout + GRACE
        self.hard_killed = False
        self.timer = threading.Timer(timeout + GRACE, self._hard_kill)
        self.timer.daemon = True
        self.timer.start()
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read_out(self):
        for line in self.popen.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            logfile(f"  {self.name}> {line}")
            self.q.put(line)
        self.q.put(None)  # EOF

    def _read_err(self):
        for line in self.popen.stderr:
            line = line.rstrip("\n")
            self.err.append(line)
            logfile(f"  {self.name}! {line}")

    def _hard_kill(self):
        if self.popen.poll() is None:
            self.hard_killed = True
            log(f"!! {self.name} (pid {self.pid}) exceeded its timeout: SIGKILL")
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGKILL)

    def _signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def err_tail(self, n=5):
        if self.popen.poll() is not None:
            self.t_err.join(timeout=1)  # let the reader catch up
        tail = [l for l in self.err if l.strip()][-n:]
        return (" | stderr: " + " / ".join(tail)) if tail else ""

    def expect(self, tag, timeout, pred=None):
        """Waits (bounded) for the next stdout line '<tag> ...' matching pred;
        returns its key=value dict. Lines in between are skipped."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{self.name}: no '{tag}' line within "
                                 f"{timeout:g} s{self.err_tail()}")
            try:
                line = self.q.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.q.put(None)  # stay at EOF for later calls
                rc = self.wait(2)
                raise BenchError(f"{self.name}: exited with {rc} before a "
                                 f"'{tag}' line{self.err_tail()}")
            t, kv = parse_line(line)
            if t == tag and (pred is None or pred(kv)):
                return kv

    def seen(self, tag):
        """Whether a '<tag>' line arrived so far (without consuming)."""
        return any(parse_line(l)[0] == tag for l in list(self.lines))

    def wait(self, timeout):
        """Bounded wait for the exit; returns the exit status."""
        try:
            return self.popen.wait(timeout=max(0.0, min(
                timeout, self.deadline - time.monotonic() + 1.0)))
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.name}: still running after {timeout:g} s")

    def finish(self, timeout):
        """Waits for a clean exit (status 0)."""
        rc = self.wait(timeout)
        if rc != 0:
            what = ("timed out (exit 3)" if rc == 3 else
                    "killed after its hard timeout" if self.hard_killed else
                    f"exited with {rc}")
            raise BenchError(f"{self.name}: {what}{self.err_tail()}")

    def stop(self, sig):
        """SIGSTOP/SIGKILL etc. by PID."""
        if sig == signal.SIGSTOP:
            self.stopped = True
        if sig == signal.SIGCONT:
            self.stopped = False
        self._signal(sig)

    def state(self):
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            return stat[stat.rindex(")") + 2]
        except (OSError, ValueError, IndexError):
            return "?"

    def kill(self):
        """SIGCONT if stopped, SIGTERM, SIGKILL after 2 s; reaps."""
        try:
            if self.popen.poll() is None:
                if self.stopped or self.state() == "T":
                    self._signal(signal.SIGCONT)
                self._signal(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=KILL_WAIT)
                except subprocess.TimeoutExpired:
                    logfile(f"kill {self.name}: SIGKILL after SIGTERM")
                    self._signal(signal.SIGKILL)
                    try:
                        self.popen.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        log(f"!! {self.name} (pid {self.pid}) survives SIGKILL")
        finally:
            self.timer.cancel()
            self.t_out.join(timeout=2)
            self.t_err.join(timeout=2)
            for f in (self.popen.stdout, self.popen.stderr):
                try:
                    f.close()
                except OSError:
                    pass
            logfile(f"end {self.name}: rc={self.popen.poll()}")


class Procs:
    """Context manager: every process started through it is killed on exit."""

    def __init__(self):
        self.procs = []

    def __enter__(self):
        return self

    def start(self, name, argv, timeout):
        p = Proc(name, argv, timeout)
        self.procs.append(p)
        return p

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.kill()
        return False


def proc_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat


def proc_rss(pid):
    """VmRSS in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def listen_overflows():
    """TcpExt ListenOverflows (accept queue full: the SYN is dropped and the
    client retransmits it after 1 s), or None if unreadable."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            if head.startswith("TcpExt:"):
                return int(dict(zip(head.split(), vals.split()))
                           ["ListenOverflows"])
    except (OSError, KeyError, ValueError):
        pass
    return None


def overflow_delta(before):
    after = listen_overflows()
    return None if before is None or after is None else after - before


def wait_port(port, timeout):
    """Bounded wait until something accepts on 127.0.0.1:port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((HOST, port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"nothing listens on port {port} after {timeout} s")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- results -----------------------------------------------------------------

class Results:
    FIELDS = ["round", "bench", "impl", "param", "metric", "value"]

    def __init__(self, path):
        self.rows = []
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w", newline="")
        self.w = csv.writer(self.f)
        self.w.writerow(self.FIELDS)
        self.f.flush()

    def add(self, rnd, bench, impl, param, metric, value):
        row = dict(round=rnd, bench=bench, impl=impl, param=str(param),
                   metric=metric, value=float(value))
        self.rows.append(row)
        self.w.writerow([rnd, bench, impl, param, metric, repr(float(value))])
        self.f.flush()

    def get(self, rnd, bench, impl, param, metric):
        for r in self.rows:
            if (r["round"], r["bench"], r["impl"], r["param"], r["metric"]) \
                    == (rnd, bench, impl, str(param), metric):
                return r["value"]
        return None

    def close(self):
        self.f.close()

    def stats(self):
        """(bench, impl, param, metric) -> (median, min, max, n)."""
        groups = {}
        for r in self.rows:
            key = (r["bench"], r["impl"], r["param"], r["metric"])
            groups.setdefault(key, []).append(r["value"])
        return {k: (statistics.median(v), min(v), max(v), len(v))
                for k, v in groups.items()}


# ---- the benchmarks ----------------------------------------------------------

class Runner:
    def __init__(self, opts, results):
        self.o = opts
        self.res = results
        self.failures = []
        self.warnings = []
        b = opts.bin
        self.raw = b / "netasync-bench-raw"
        self.zmq = b / "netasync-bench-zmq"
        self.caf = b / "netasync-bench-caf"
        self.have_zmq = self.zmq.exists()
        self.certs = None  # made on first use by the tls bench
        self.ab_bin = shutil.which("ab")
        self.nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if not self.have_zmq:
            self.warn(f"{self.zmq} not built (libzmq missing?): zmq skipped")

    def warn(self, msg):
        self.warnings.append(msg)
        log("!" * 72 + f"\n!! WARNING: {msg}\n" + "!" * 72)

    def guarded(self, what, fn, *args):
        """Runs one measurement; a failed one is tried once more (and the
        first failure listed under the warnings)."""
        for attempt in (1, 2):
            try:
                fn(*args)
                break
            except BenchError as e:
                msg = f"{what}: {e}"
            except Exception as e:  # a bug here: processes are gone anyway
                msg = f"{what}: {type(e).__name__}: {e}"
            finally:
                time.sleep(0.2)
            if attempt == 1:
                self.warn(f"failed, retrying once: {msg}")
            else:
                self.failures.append(msg)
                log(f"!! FAILED {msg}")

    # -- throughput --

    def tp_commands(self, impl, size):
        d = str(self.o.send_seconds)
        common = ["--host", HOST, "--size", size, "--seconds", d]
        if impl == "raw":
            return [self.raw, "recv"], [self.raw, "send"] + common
        if impl == "zmq":
            return [self.zmq, "pull"], [self.zmq, "push"] + common
        if impl == "caf":
            return [self.caf, "recv"], [self.caf, "send"] + common
        if impl == "caf-stealing":
            return ([self.caf, "recv"] + STEALING,
                    [self.caf, "send"] + common + STEALING)
        if impl == "caf-batch":
            b = 64 if size <= 4096 else 4 if size <= 65536 else 1
            return ([self.caf, "recv", "--batch", 1],
                    [self.caf, "send"] + common + ["--batch", b])
        if impl in ("caf-tls", "caf-ws", "caf-wss"):
            return ([self.caf, "recv"] + self.scheme_args(impl),
                    [self.caf, "send"] + common + self.scheme_args(impl))
        if impl == "caf-session":
            return ([self.caf, "recv"] + SESSION,
                    [self.caf, "send"] + common + SESSION)
        raise ValueError(impl)

    def scheme_args(self, impl):
        """The link of a caf-<scheme> impl: --scheme and, for tls and wss,
        the test certificates."""
        if impl == "caf-tls":
            return self.tls_args()
        if impl == "caf-ws":
            return ["--scheme", "ws"]
        if impl == "caf-wss":
            return ["--scheme", "wss"] + self.tls_args()[2:]
        return []

    def tls_args(self):
        """--scheme tls and the test certificates (made once per run by
        tests/tls/make_test_certs.sh): server certificate for 127.0.0.1,
        clients trusting its CA."""
        if self.certs is None:
            self.certs = ROOT / "build" / "bench" / "certs"
            subprocess.run(["bash", str(ROOT / "tests" / "tls" /
                                        "make_test_certs.sh"),
                            str(self.certs)], check=True, timeout=60,
                           stdout=subprocess.DEVNULL)
        c = self.certs
        return ["--scheme", "tls",
                f"--netasync.tls.cert-file={c / 'server.pem'}",
                f"--netasync.tls.key-file={c / 'server.key'}",
                f"--netasync.tls.ca-file={c / 'ca.pem'}"]

    def throughput(self, rnd, impl, size):
        recv_cmd, send_cmd = self.tp_commands(impl, size)
        t = int(self.o.send_seconds) + 40
        with Procs() as ps:
            rx = ps.start(f"{impl}-recv", recv_cmd + ["--port", 0,
                                                      "--timeout", t], t)
            port = rx.expect("listening", 10)["port"]
            tx = ps.start(f"{impl}-send", send_cmd + ["--port", port,
                                                      "--timeout", t - 10],
                          t - 10)
            sent = int(tx.expect("result", t)["sent"])
            tx.finish(10)
            r = rx.expect("result", 20)
            rx.finish(10)
        msgs, nbytes, secs = int(r["msgs"]), int(r["bytes"]), float(r["seconds"])
        if msgs == 0 or secs <= 0:
            raise BenchError(f"receiver counted {msgs} msgs in {secs} s")
        mps, mbs = msgs / secs, nbytes / secs / 1e6
        add = lambda m, v: self.res.add(rnd, "throughput", impl, size, m, v)
        add("msgs_per_s", mps)
        add("mb_per_s", mbs)
        add("msgs", msgs)
        add("sent", sent)
        add("lost", sent - msgs)
        if nbytes != msgs * size:
            self.warn(f"throughput {impl} {size} B: bytes={nbytes} is not "
                      f"msgs*size={msgs * size}")
        extra = ""
        raw = self.res.get(rnd, "throughput", "raw", size, "msgs_per_s")
        if impl != "raw" and raw:
            self.res.add(rnd, "throughput", impl, size, "ratio_raw", mps / raw)
            extra = f", {mps / raw:.4f} x raw"
        tcp = self.res.get(rnd, "throughput", "caf", size, "msgs_per_s")
        if impl in ("caf-tls", "caf-ws", "caf-wss", "caf-session") and tcp:
            self.res.add(rnd, "throughput", impl, size, "ratio_tcp", mps / tcp)
            extra += f", {mps / tcp:.3f} x tcp"
        zmq = self.res.get(rnd, "throughput", "zmq", size, "msgs_per_s")
        if impl.startswith("caf") and zmq:
            self.res.add(rnd, "throughput", impl, size, "ratio_zmq", mps / zmq)
        log(f"[r{rnd}] throughput {impl:<11} {size:>7} B: {mps:>13,.0f} msgs/s "
            f"{mbs:>9.1f} MB/s{extra}")
        if sent != msgs:
            self.warn(f"throughput round {rnd} {impl} {size} B: LOST "
                      f"{sent - msgs} messages (sent {sent}, received {msgs})")

    # -- latency --

    def lat_commands(self, impl):
        ping = ["--host", HOST, "--size", 64, "--count", self.o.lat_count,
                "--warmup", self.o.lat_warmup]
        if impl == "raw":
            return [self.raw, "echo"], [self.raw, "ping"] + ping
        if impl == "zmq":
            return [self.zmq, "rep"], [self.zmq, "req"] + ping
        extra = {"caf": [], "caf-stealing": STEALING,
                 "caf-1thread": ONE_THREAD}.get(impl)
        if extra is None:
            extra = self.scheme_args(impl)
        return [self.caf, "echo"] + extra, [self.caf, "ping"] + ping + extra

    def latency(self, rnd, impl, placement):
        srv_cmd, cli_cmd = self.lat_commands(impl)
        pre = ["taskset", "-c", "0"] if placement == "pinned" else []
        t = 30
        with Procs() as ps:
            srv = ps.start(f"{impl}-server", pre + srv_cmd + [
                "--port", 0, "--timeout", t + 10], t + 10)
            port = srv.expect("listening", 10)["port"]
            cli = ps.start(f"{impl}-ping", pre + cli_cmd + [
                "--port", port, "--timeout", t], t)
            r = cli.expect("result", t)
            cli.finish(10)
        p50, p99 = float(r["p50_us"]), float(r["p99_us"])
        add = lambda m, v: self.res.add(rnd, "latency", impl, placement, m, v)
        add("p50_us", p50)
        add("p99_us", p99)
        extra = ""
        raw = self.res.get(rnd, "latency", "raw", placement, "p50_us")
        if impl != "raw" and raw:
            add("p50_ratio_raw", p50 / raw)
            extra = f", p50 {p50 / raw:.2f} x raw"
        log(f"[r{rnd}] latency {impl:<11} {placement:<7}: p50 {p50:8.1f} us, "
            f"p99 {p99:8.1f} us{extra}")

    # -- calls --

    def calls(self, rnd, impl, inflight):
        """Round trips per second with `inflight` calls outstanding: caf's
        calls over a session (echo answers with the call's bytes), libzmq's
        REQ/REP (one in flight by its rule) and DEALER/ROUTER."""
        d = str(self.o.send_seconds)
        common = ["--host", HOST, "--size", 64, "--seconds", d]
        if impl == "caf":
            srv = [self.caf, "echo"] + SESSION
            cli = [self.caf, "call"] + common + ["--inflight", inflight] \
                + SESSION
        elif impl == "zmq-req":
            srv, cli = [self.zmq, "rep"], [self.zmq, "req-rate"] + common
        else:
            srv = [self.zmq, "router"]
            cli = [self.zmq, "dealer"] + common + ["--inflight", inflight]
        t = int(self.o.send_seconds) + 30
        with Procs() as ps:
            s = ps.start(f"{impl}-server", srv + ["--port", 0, "--timeout",
                                                  t + 10], t + 10)
            port = s.expect("listening", 10)["port"]
            c = ps.start(f"{impl}-calls", cli + ["--port", port, "--timeout",
                                                t], t)
            r = c.expect("result", t)
            c.finish(10)
        rate = int(r["calls"]) / float(r["seconds"])
        self.res.add(rnd, "rpc", impl, inflight, "calls_per_s", rate)
        log(f"[r{rnd}] calls {impl:<11} {inflight:>3} in flight: "
            f"{rate:>11,.0f} calls/s")

    # -- http --

    def http_setup(self, ps):
        """netasync-http-server and nginx (its own config, 2 workers as
        `auto` gives here) serving /hello ("hello world!", text/plain) and
        /file.bin (4 KiB) from one directory; returns both base URLs."""
        work = ROOT / "build" / "bench" / "http"
        www = work / "www"
        www.mkdir(parents=True, exist_ok=True)
        (www / "file.bin").write_bytes(bytes(range(256)) * 16)
        for d in (work, www):
            d.chmod(0o755)  # nginx's workers run as another user under root
        srv = self.http_srv = ps.start("caf-http", [self.o.bin / "netasync-http-server",
                                    "--listen", "http://127.0.0.1:0",
                                    "--static", www], 120)
        srv.expect("listening", 10)
        line = [l for l in srv.lines if l.startswith("listening on ")][-1]
        caf = line.split("listening on ", 1)[1].strip().rstrip("/")
        port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(f"""
daemon off; worker_processes auto; pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    location = /hello {{ default_type text/plain; return 200 "hello world!"; }}
  }}
}}
""")
        self.nginx_proc = ps.start("nginx", [self.nginx, "-c", conf, "-p", work], 120)
        wait_port(port, 10)
        return caf, f"http://127.0.0.1:{port}"

    def ab(self, url, conns, n):
        p = subprocess.run([self.ab_bin, "-k", "-q", "-c", str(conns), "-n",
                            str(n), url], capture_output=True, text=True,
                           timeout=120)
        rate = re.search(r"Requests per second:\s+([\d.]+)", p.stdout)
        failed = re.search(r"Failed requests:\s+(\d+)", p.stdout)
        non2xx = re.search(r"Non-2xx responses:\s+(\d+)", p.stdout)
        if p.returncode != 0 or not rate:
            raise BenchError(f"ab {url}: exit {p.returncode}: "
                             f"{(p.stderr or p.stdout)[-300:]}")
        if (failed and int(failed.group(1))) or non2xx:
            raise BenchError(f"ab {url}: failed requests: {p.stdout[-400:]}")
        return float(rate.group(1))

    def idle_http_rss(self, url, pids, n):
        """RSS added per idle kept-alive connection: n connections that
        each had one request answered (`url`'s path) and stay open, the
        processes `pids()` names summed (nginx: its workers too)."""
        host, port = url[len("http://"):].split(":")
        req = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        rss = lambda: sum(proc_rss(p) for p in pids())
        time.sleep(0.3)
        r0 = rss()
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(req)
                got = b""
                while b"\r\n\r\n" not in got:
                    b = s.recv(4096)
                    if not b:
                        raise BenchError("an idle HTTP connection was closed")
                    got += b
                socks.append(s)
            time.sleep(0.5)
            r1 = rss()
        finally:
            for s in socks:
                s.close()
        return (r1 - r0) / n

    def http(self, rnd):
        n = 5000 if self.o.quick else 20000
        with Procs() as ps:
            bases = dict(zip(HTTP_SERVERS, self.http_setup(ps)))
            for target in HTTP_TARGETS:
                path = "/hello" if target == "hello" else "/file.bin"
                for impl in HTTP_SERVERS:
                    rate = self.ab(bases[impl] + path, 50, n)
                    self.res.add(rnd, "http", impl, target, "req_per_s", rate)
                    log(f"[r{rnd}] http server {impl:<6} {target:<5}: "
                        f"{rate:>9,.0f} req/s (ab -k -c 50)")
            # Memory per idle kept-alive connection (well within the
            # 10 s ws.handshake-timeout that ends idle ones).
            idle = 500 if self.o.quick else 2000
            kids = lambda pid: [int(x) for x in open(
                f"/proc/{pid}/task/{pid}/children").read().split()]
            who = {"caf": lambda: [self.http_srv.pid],
                   "nginx": lambda: [self.nginx_proc.pid]
                   + kids(self.nginx_proc.pid)}
            for impl in HTTP_SERVERS:
                bpc = self.idle_http_rss(bases[impl], who[impl], idle)
                self.res.add(rnd, "http", impl, "idle", "bytes_per_conn", bpc)
                log(f"[r{rnd}] http server {impl:<6} idle : {bpc:,.0f} B "
                    f"per kept-alive connection ({idle} open)")
            # The client: m URLs of nginx's /hello one after another.
            m = 500 if self.o.quick else 2000
            url = bases["nginx"] + "/hello"
            for impl in HTTP_CLIENTS:
                if impl == "ab":
                    rate = self.ab(url, 1, m)
                else:
                    argv = [self.o.bin / "netasync-http"] + [url] * m
                    if impl == "caf-nopool":
                        argv.append("--netasync.http-client.no-pool")
                    t0 = time.monotonic()
                    p = subprocess.run([str(a) for a in argv],
                                       capture_output=True, timeout=120)
                    dt = time.monotonic() - t0
                    last = p.stderr.decode().strip().splitlines()[-1:]
                    if p.returncode != 0 or not last or \
                            not last[0].startswith(f"{m} requests"):
                        raise BenchError(f"netasync-http: exit {p.returncode}:"
                                         f" {p.stderr.decode()[-300:]}")
                    rate = m / dt
                self.res.add(rnd, "http", "client-" + impl, "hello",
                             "req_per_s", rate)
                log(f"[r{rnd}] http client {impl:<10}: {rate:>9,.0f} req/s "
                    f"(one at a time, against nginx)")

    # -- scale --

    def echo_server_cmd(self, impl):
        hb = ["--heartbeat-ms", 1000]
        if impl == "raw":
            return [self.raw, "echo"] + hb
        if impl in ("caf-tls", "caf-ws", "caf-wss"):
            return [self.caf, "echo"] + hb + self.scheme_args(impl)
        return [self.caf, "echo"] + hb + (STEALING if impl == "caf-stealing"
                                          else [])

    def scale(self, rnd, impl, n, bench="scale"):
        """Idle server cost: n connections with 1 s heartbeats. The client
        is raw's (the tcp:// wire), or caf's over the server's link for a
        caf-<scheme> server of the "ws" bench."""
        hold = 7
        if bench == "ws":
            client = [self.caf, "scale-client"] + self.scheme_args(impl)
        else:
            client = [self.raw, "scale-client"]
        with Procs() as ps:
            srv = ps.start(f"{impl}-echo", self.echo_server_cmd(impl) + [
                "--port", 0, "--timeout", 120], 120)
            port = srv.expect("listening", 10)["port"]
            time.sleep(0.3)
            rss0 = proc_rss(srv.pid)
            ovf0 = listen_overflows()
            cli = ps.start("scale-client", client + [
                "--host", HOST, "--port", port,
                "--connections", n, "--heartbeat-ms", 1000,
                "--hold-seconds", hold, "--timeout", 60], 60)
            est = cli.expect("established", 60)
            if int(est["connections"]) != n:
                cli.wait(5)
                raise BenchError(f"{est['connections']} of {n} connections "
                                 f"established{cli.err_tail()}")
            t_est = float(est["seconds"])
            ovf = overflow_delta(ovf0)
            time.sleep(1.0)
            c0, w0 = proc_ticks(srv.pid), time.monotonic()
            time.sleep(4.0)
            c1, w1 = proc_ticks(srv.pid), time.monotonic()
            rss1 = proc_rss(srv.pid)
            if srv.popen.poll() is not None:
                raise BenchError(f"server exited during the hold{srv.err_tail()}")
            r = cli.expect("result", hold + 15)
            cli.finish(10)
        cpu = (c1 - c0) / CLK_TCK / (w1 - w0) * 100
        bpc = (rss1 - rss0) / n
        add = lambda m, v: self.res.add(rnd, bench, impl, n, m, v)
        add("establish_s", t_est)
        add("cpu_pct", cpu)
        add("rss_start_b", rss0)
        add("rss_end_b", rss1)
        add("bytes_per_conn", bpc)
        if ovf is not None:
            add("listen_overflows", ovf)
        lost = int(r.get("lost", 0)) + int(r.get("failed", 0))
        if lost:
            self.warn(f"scale round {rnd} {impl} N={n}: client reports "
                      f"failed/lost connections: {r}")
        log(f"[r{rnd}] scale {impl:<11} N={n:<6}: established in {t_est:.3f} s, "
            f"CPU {cpu:5.1f} %, {bpc:,.0f} B/conn "
            f"(RSS {rss0 / 2**20:.1f} -> {rss1 / 2**20:.1f} MiB)"
            + (f", {ovf} listen-queue overflows" if ovf else ""))

    def connect(self, rnd, impl, n=5000):
        with Procs() as ps:
            srv = ps.start(f"{impl}-echo", self.echo_server_cmd(impl) + [
                "--port", 0, "--timeout", 120], 120)
            port = srv.expect("listening", 10)["port"]
            ovf0 = listen_overflows()
            prog = self.raw if impl == "raw" else self.caf
            tls = self.tls_args() if impl == "caf-tls" else []
            cli = ps.start(f"{impl}-scale-client", [
                prog, "scale-client", "--host", HOST, "--port", port,
                "--connections", n, "--heartbeat-ms", 1000,
                "--hold-seconds", 1, "--timeout", 60] + tls, 60)
            est = cli.expect("established", 60)
            ovf = overflow_delta(ovf0)
            cli.expect("result", 20)
            cli.finish(10)
        if int(est["connections"]) != n:
            raise BenchError(f"{est['connections']} of {n} established")
        t = float(est["seconds"])
        self.res.add(rnd, "connect", impl, n, "establish_s", t)
        self.res.add(rnd, "connect", impl, n, "per_s", n / t)
        if ovf is not None:
            self.res.add(rnd, "connect", impl, n, "listen_overflows", ovf)
        extra = ""
        raw = self.res.get(rnd, "connect", "raw", n, "establish_s")
        if impl != "raw" and raw:
            self.res.add(rnd, "connect", impl, n, "ratio_raw", t / raw)
            extra = f", {t / raw:.2f} x raw"
        log(f"[r{rnd}] connect {impl:<5} {n} connections: established in "
            f"{t:.3f} s{extra}"
            + (f", {ovf} listen-queue overflows" if ovf else ""))

    # -- reconnect --

    def start_echo_on(self, ps, port, tries=8):
        """Starts caf echo on a fixed port; retries while the bind fails."""
        last = None
        for i in range(tries):
            srv = ps.start(f"caf-echo#{i}", [self.caf, "echo", "--port", port,
                                             "--timeout", 90], 90)
            try:
                return srv, srv.expect("listening", 10)
            except BenchError as e:
                last = e
                srv.kill()
                time.sleep(0.3)
        raise BenchError(f"could not restart the server on port {port}: {last}")

    def reconnect(self, rnd, period_ms):
        port = free_port()
        watch_args = [] if period_ms == 1000 else ["--reconnect-ms", period_ms]
        with Procs() as ps:
            self.start_echo_on(ps, port)
            srv = ps.procs[-1]
            w = ps.start("caf-watch", [self.caf, "watch", "--host", HOST,
                                       "--port", port, "--seconds", 40,
                                       "--timeout", 50] + watch_args, 50)
            w.expect("status", 10, lambda kv: kv["_"] == "connected")
            srv.stop(signal.SIGKILL)
            srv.wait(5)
            w.expect("status", 10, lambda kv: kv["_"] == "disconnected")
            time.sleep(0.3)
            _, lst = self.start_echo_on(ps, port)
            t0 = float(lst["t"])
            kv = w.expect("status", period_ms / 1000 + 15,
                          lambda kv: kv["_"] == "connected")
            t1 = float(kv["t"])
        dt = t1 - t0
        self.res.add(rnd, "reconnect", "caf", period_ms, "reconnect_s", dt)
        log(f"[r{rnd}] reconnect period {period_ms} ms: reconnected "
            f"{dt:.3f} s after the server was back")

    # -- stuck --

    def stuck(self, rnd, hb_ms):
        timeout_s = 4 * hb_ms / 1000
        with Procs() as ps:
            # The server heartbeats with the same period: a silent server
            # would otherwise look stuck to the watcher after the timeout.
            srv = ps.start("caf-echo", [self.caf, "echo", "--port", 0,
                                        "--heartbeat-ms", hb_ms,
                                        "--timeout", 60], 60)
            port = srv.expect("listening", 10)["port"]
            w = ps.start("caf-watch", [self.caf, "watch", "--host", HOST,
                                       "--port", port, "--seconds", 40,
                                       "--heartbeat-ms", hb_ms,
                                       "--timeout", 50], 50)
            w.expect("status", 10, lambda kv: kv["_"] == "connected")
            time.sleep(1.2)
            if any("disconnected" in l for l in w.lines):
                raise BenchError("disconnected before the server was stopped: "
                                 + [l for l in w.lines if "disconn" in l][0])
            srv.stop(signal.SIGSTOP)
            t0 = time.monotonic()
            kv = w.expect("status", timeout_s + 10,
                          lambda kv: kv["_"] == "disconnected")
            t1 = float(kv["t"])
        dt = t1 - t0
        add = lambda m, v: self.res.add(rnd, "stuck", "caf", hb_ms, m, v)
        add("detect_s", dt)
        add("timeout_s", timeout_s)
        add("ratio_timeout", dt / timeout_s)
        log(f"[r{rnd}] stuck heartbeat {hb_ms} ms: detected after {dt:.3f} s "
            f"({dt / timeout_s:.2f} x the {timeout_s:g} s timeout)")

    # -- one round --

    def round(self, rnd):
        o = self.o
        if "throughput" in o.only:
            for size in o.sizes:
                for impl in TP_IMPLS:
                    if impl == "zmq" and not self.have_zmq:
                        continue
                    self.guarded(f"round {rnd} throughput {impl} {size} B",
                                 self.throughput, rnd, impl, size)
        if "latency" in o.only:
            for placement in ["default", "pinned"]:
                for impl in LAT_IMPLS:
                    if impl == "zmq" and not self.have_zmq:
                        continue
                    self.guarded(f"round {rnd} latency {impl} {placement}",
                                 self.latency, rnd, impl, placement)
        if "scale" in o.only:
            for n in o.scale_ns:
                for impl in SCALE_SERVERS:
                    self.guarded(f"round {rnd} scale {impl} N={n}",
                                 self.scale, rnd, impl, n)
            for impl in ["raw", "caf"]:
                self.guarded(f"round {rnd} connect-5000 {impl}",
                             self.connect, rnd, impl)
        if "reconnect" in o.only:
            for period in [1000, 100]:
                self.guarded(f"round {rnd} reconnect {period} ms",
                             self.reconnect, rnd, period)
        if "stuck" in o.only:
            for hb in [500, 1000]:
                self.guarded(f"round {rnd} stuck {hb} ms", self.stuck, rnd, hb)
        if "tls" in o.only:
            # TLS against TCP in the same round: caf over tcp:// first.
            for size in TLS_SIZES:
                for impl in ["caf", "caf-tls"]:
                    if impl == "caf" and "throughput" in o.only \
                            and size in o.sizes:
                        continue  # measured above, this round
                    self.guarded(f"round {rnd} throughput {impl} {size} B",
                                 self.throughput, rnd, impl, size)
            for impl in ["caf", "caf-tls"]:
                self.guarded(f"round {rnd} connect-{TLS_HANDSHAKES} {impl}",
                             self.connect, rnd, impl, TLS_HANDSHAKES)
        if "ws" in o.only:
            # Every link with the same programs, in the same round.
            for size in LINK_SIZES:
                for impl in LINK_IMPLS:
                    self.guarded(f"round {rnd} throughput {impl} {size} B",
                                 self.throughput, rnd, impl, size)
            for impl in LINK_IMPLS:
                self.guarded(f"round {rnd} latency {impl} default",
                             self.latency, rnd, impl, "default")
            for impl in ["caf", "caf-ws"]:
                self.guarded(f"round {rnd} idle {impl} N={LINK_SCALE_N}",
                             self.scale, rnd, impl, LINK_SCALE_N, "ws")
        if "rpc" in o.only:
            for size in SESSION_SIZES:
                for impl in ["caf", "caf-session"]:
                    if impl == "caf" and self.res.get(
                            rnd, "throughput", "caf", size, "msgs_per_s"):
                        continue  # measured above, this round
                    self.guarded(f"round {rnd} throughput {impl} {size} B",
                                 self.throughput, rnd, impl, size)
            for inflight in CALL_INFLIGHT:
                for impl in CALL_IMPLS:
                    if impl.startswith("zmq") and not self.have_zmq:
                        continue
                    if impl == "zmq-req" and inflight != 1:
                        continue  # REQ allows one request at a time
                    self.guarded(f"round {rnd} calls {impl} {inflight}",
                                 self.calls, rnd, impl, inflight)
        if "http" in o.only:
            if not (self.ab_bin and self.nginx):
                self.warn("ab (apache2-utils) or nginx missing: http skipped")
            else:
                self.guarded(f"round {rnd} http", self.http, rnd)


# ---- summary -----------------------------------------------------------------

def si(x):
    if x is None:
        return "–"
    for div, suf in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= div:
            return f"{x / div:.2f}{suf}"
    return f"{x:.1f}"


def size_label(s):
    s = int(s)
    if s >= 1 << 20:
        return f"{s >> 20} MiB"
    if s >= 1 << 10:
        return f"{s >> 10} KiB"
    return f"{s} B"


def ratio_digits(x):
    return f"{x:.4f}" if x < 0.1 else f"{x:.3f}" if x < 10 else f"{x:.1f}"


class Summary:
    def __init__(self, stats, opts, failures, warnings):
        self.s = stats
        self.o = opts
        self.failures = failures
        self.warnings = warnings

    def med(self, bench, impl, param, metric):
        v = self.s.get((bench, impl, str(param), metric))
        return v[0] if v else None

    def ratio(self, bench, a, b, param, metric):
        """a's median over b's, two decimals; "–" if either is missing."""
        x = self.med(bench, a, param, metric)
        y = self.med(bench, b, param, metric)
        return "–" if x is None or y is None else f"{x / y:.2f}"

    def fmt(self, bench, impl, param, metric, f=None, spread=True):
        v = self.s.get((bench, impl, str(param), metric))
        if not v:
            return "–"
        f = f or ratio_digits
        out = f(v[0])
        if spread and v[3] > 1:
            out += f" ({f(v[1])}–{f(v[2])})"
        return out

    def machine(self):
        def cmd(*a):
            try:
                return subprocess.run(a, capture_output=True, text=True,
                                      timeout=10, cwd=ROOT).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return "?"
        commit = cmd("git", "rev-parse", "--short", "HEAD")
        # What this run writes itself (the plots, then this page) is not a
        # change to what was measured.
        dirty = [l for l in cmd("git", "status", "--porcelain",
                                "--untracked-files=no").splitlines()
                 if not l[2:].strip().startswith("docs/benchmarks")]
        if dirty:
            commit += " + uncommitted changes"
        cpu = "?"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return (f"nproc {cmd('nproc')} ({cpu}), "
                f"Linux {os.uname().release}, "
                f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
                f"commit {commit}")

    def render(self, images):
        o = self.o
        L = []
        L.append(f"Machine: {self.machine()}.  ")
        L.append(f"Command: `{o.command}`.  ")
        L.append(f"{o.rounds} round(s), interleaved; throughput senders run "
                 f"{o.send_seconds} s; wall time {o.wall:.0f} s. "
                 f"Figures are medians over the rounds, "
                 f"min–max in parentheses. Only 127.0.0.1; the machine is "
                 f"shared, so expect noise.")
        L.append("")
        if self.failures:
            L.append("**Failed measurements:**")
            L.append("")
            L += [f"- {f}" for f in self.failures]
            L.append("")
        if self.warnings:
            L.append("**Warnings:**")
            L.append("")
            L += [f"- {w}" for w in self.warnings]
            L.append("")
        if "throughput" in o.only:
            L += self.throughput(images)
        if "latency" in o.only:
            L += self.latency(images)
        if "scale" in o.only:
            L += self.scale()
        if "reconnect" in o.only or "stuck" in o.only:
            L += self.faults()
        if "tls" in o.only:
            L += self.tls()
        if "ws" in o.only:
            L += self.links()
        if "rpc" in o.only:
            L += self.rpc()
        if "http" in o.only:
            L += self.http()
        return "\n".join(L).rstrip() + "\n"

    def http(self):
        f0 = lambda x: f"{x:,.0f}"

        def ratio(a, b, param):
            return self.ratio("http", a, b, param, "req_per_s")

        L = ["### HTTP", "",
             "Server: `ab -k -c 50` (50 kept-alive connections) against "
             "`netasync-http-server` and against nginx (`worker_processes "
             "auto`, access log off) on the same machine in the same round: "
             "`GET /hello` (our handler actor's 12-byte reply; nginx's "
             "`return 200`) and `GET /file.bin`, a 4 KiB static file. "
             "Client: 2,000 requests for nginx's /hello one after another, "
             "by `netasync-http` (its pool: one connection), by it with "
             "`--netasync.http-client.no-pool` (a connection per "
             "request), and by `ab -k -c 1`; the program's start is "
             "included in its time.", "",
             "| server | caf req/s | nginx req/s | caf ×nginx | goal |",
             "|---|---:|---:|---:|---:|"]
        for t in HTTP_TARGETS:
            L.append(f"| {'handler reply' if t == 'hello' else '4 KiB file'} | "
                     f"{self.fmt('http', 'caf', t, 'req_per_s', f0)} | "
                     f"{self.fmt('http', 'nginx', t, 'req_per_s', f0)} | "
                     f"{ratio('caf', 'nginx', t)} | "
                     f"≥ {HTTP_SERVER_TARGET[t]} |")
        L.append(f"| idle kept-alive connection (bytes of RSS each, 2,000 open) | "
                 f"{self.fmt('http', 'caf', 'idle', 'bytes_per_conn', f0)} | "
                 f"{self.fmt('http', 'nginx', 'idle', 'bytes_per_conn', f0)} | "
                 f"{self.ratio('http', 'caf', 'nginx', 'idle', 'bytes_per_conn')} | – |")
        L += ["", "| client (against nginx) | req/s | ×ab |", "|---|---:|---:|"]
        for c in HTTP_CLIENTS:
            L.append(f"| {c} | "
                     f"{self.fmt('http', 'client-' + c, 'hello', 'req_per_s', f0)}"
                     f" | {ratio('client-' + c, 'client-ab', 'hello')} |")
        L.append("")
        return L

    def rpc(self):
        f0 = lambda x: f"{x:,.0f}"
        f3 = lambda x: f"{x:.3f}"

        def ratio(a, b, param, bench="rpc", metric="calls_per_s"):
            return self.ratio(bench, a, b, param, metric)

        L = ["### Calls and sessions", "",
             "Calls: 64 B requests answered with their own bytes, round trips "
             "per second with 1 and with 64 calls in flight: caf's "
             "`(call_atom, bytes)` over a session (`netasync-bench-caf "
             "call`), libzmq REQ/REP (one request at a time by its rule) and "
             "DEALER/ROUTER, in the same round. Sessions: one-way throughput "
             "of caf with `--netasync.session` beside plain caf.", "",
             "| calls in flight | caf calls/s | zmq REQ/REP | zmq DEALER/ROUTER "
             "| caf ×REQ/REP | caf ×DEALER/ROUTER |",
             "|---:|---:|---:|---:|---:|---:|"]
        for n in CALL_INFLIGHT:
            L.append(f"| {n} | {self.fmt('rpc', 'caf', n, 'calls_per_s', f0)} | "
                     + (self.fmt('rpc', 'zmq-req', n, 'calls_per_s', f0)
                        if n == 1 else "–")
                     + f" | {self.fmt('rpc', 'zmq-dealer', n, 'calls_per_s', f0)}"
                     + " | " + (ratio("caf", "zmq-req", n) if n == 1 else "–")
                     + f" | {ratio('caf', 'zmq-dealer', n)} |")
        L += ["", "| one-way | plain msgs/s | session msgs/s | session ×plain "
              "| plain MB/s | session MB/s |",
              "|---|---:|---:|---:|---:|---:|"]
        for size in SESSION_SIZES:
            L.append(f"| {size_label(size)} | "
                     f"{self.fmt('throughput', 'caf', size, 'msgs_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-session', size, 'msgs_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-session', size, 'ratio_tcp', f3)} | "
                     f"{self.fmt('throughput', 'caf', size, 'mb_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-session', size, 'mb_per_s', f0)} |")
        L.append("")
        return L

    def links(self):
        f0 = lambda x: f"{x:,.0f}"
        f1 = lambda x: f"{x:.1f}"
        f3 = lambda x: f"{x:.3f}"
        n = LINK_SCALE_N
        L = ["### Links: tcp, tls, ws, wss", "",
             "The same caf programs over each link in the same round "
             "(`netasync-bench-caf --scheme`): one-way throughput, the 64 B "
             "round trip (echo/ping, not pinned), and the idle cost of "
             f"{n:,} connections with 1 s heartbeats (server CPU and RSS per "
             "connection; the client is caf's scale-client over the same "
             "link). ×tcp: ratio to caf over tcp:// in the same round.", "",
             "| measurement | tcp:// | tls:// | ws:// | wss:// | ws ×tcp | wss ×tcp |",
             "|---|---:|---:|---:|---:|---:|---:|"]
        for size in LINK_SIZES:
            cells = [f"throughput {size_label(size)}, msgs/s"]
            cells += [self.fmt("throughput", i, size, "msgs_per_s", f0)
                      for i in LINK_IMPLS]
            cells += [self.fmt("throughput", i, size, "ratio_tcp", f3)
                      for i in ("caf-ws", "caf-wss")]
            L.append("| " + " | ".join(cells) + " |")
            cells = [f"throughput {size_label(size)}, MB/s"]
            cells += [self.fmt("throughput", i, size, "mb_per_s", f0)
                      for i in LINK_IMPLS]
            L.append("| " + " | ".join(cells) + " | | |")
        cells = ["64 B round trip p50, µs"]
        cells += [self.fmt("latency", i, "default", "p50_us", f1)
                  for i in LINK_IMPLS]
        tcp = self.med("latency", "caf", "default", "p50_us")
        for i in ("caf-ws", "caf-wss"):
            v = self.med("latency", i, "default", "p50_us")
            cells.append("–" if tcp is None or v is None else f"{v / tcp:.2f}")
        L.append("| " + " | ".join(cells) + " |")
        cells = ["64 B round trip p99, µs"]
        cells += [self.fmt("latency", i, "default", "p99_us", f1)
                  for i in LINK_IMPLS]
        L.append("| " + " | ".join(cells) + " | | |")
        for metric, label, f in (("cpu_pct", "idle CPU, % of a core", f1),
                                 ("bytes_per_conn", "bytes per connection", f0)):
            tcp = self.med("ws", "caf", n, metric)
            ws = self.med("ws", "caf-ws", n, metric)
            L.append(f"| {n:,} idle, {label} | "
                     f"{self.fmt('ws', 'caf', n, metric, f)} | – | "
                     f"{self.fmt('ws', 'caf-ws', n, metric, f)} | – | "
                     + ("–" if tcp is None or ws is None else f"{ws / tcp:.2f}")
                     + " | |")
        L.append("")
        return L

    def tls(self):
        f0 = lambda x: f"{x:,.0f}"
        f3 = lambda x: f"{x:.3f}"
        n = TLS_HANDSHAKES
        L = ["### TLS", "",
             "The same programs over `tls://` (TLS 1.3, OpenSSL's default "
             "suite, P-256 certificates from tests/tls/make_test_certs.sh) "
             "against `tcp://` in the same round. Handshakes/s: a caf "
             f"scale-client opens {n} connections at once to a caf echo "
             "server and waits for every hello's echo.", "",
             "| measurement | tcp:// | tls:// | tls ×tcp |",
             "|---|---:|---:|---:|"]
        for size in TLS_SIZES:
            L.append(f"| throughput {size_label(size)}, msgs/s | "
                     f"{self.fmt('throughput', 'caf', size, 'msgs_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-tls', size, 'msgs_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-tls', size, 'ratio_tcp', f3)} |")
            L.append(f"| throughput {size_label(size)}, MB/s | "
                     f"{self.fmt('throughput', 'caf', size, 'mb_per_s', f0)} | "
                     f"{self.fmt('throughput', 'caf-tls', size, 'mb_per_s', f0)} | |")
        tcp = self.med("connect", "caf", n, "per_s")
        tls = self.med("connect", "caf-tls", n, "per_s")
        L.append(f"| {n} connects, connections/s | "
                 f"{self.fmt('connect', 'caf', n, 'per_s', f0)} | "
                 f"{self.fmt('connect', 'caf-tls', n, 'per_s', f0)} | "
                 + ("–" if tcp is None or tls is None else f"{tls / tcp:.3f}")
                 + " |")
        L.append("")
        return L

    def throughput(self, images):
        o = self.o
        m = self.med
        L = ["### Throughput", "",
             "One connection, one direction, for the send duration; the "
             "receiver counts messages between the first and the last "
             "arrival. Ratios are per round against raw epoll in the same "
             "round. caf: `netasync::system_config`'s defaults (sharing "
             "scheduler); caf-stealing: CAF's own default, "
             "`--scheduler.policy=stealing`; caf-batch: defaults, receiver "
             "`--batch 1` (batch delivery), sender `--batch B` (B = 64 up to "
             "4 KiB, 4 at 64 KiB, 1 at 1 MiB).", ""]
        L.append("| size | raw msgs/s | raw MB/s | zmq ×raw | caf ×raw | "
                 "caf-stealing ×raw | caf-batch ×raw |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for size in o.sizes:
            cells = [size_label(size),
                     self.fmt("throughput", "raw", size, "msgs_per_s", si),
                     self.fmt("throughput", "raw", size, "mb_per_s",
                              lambda x: f"{x:,.0f}", spread=False)]
            cells += [self.fmt("throughput", i, size, "ratio_raw")
                      for i in TP_IMPLS[1:]]
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        L.append("Absolute medians, msgs/s (MB/s):")
        L.append("")
        L.append("| size | " + " | ".join(TP_IMPLS) + " |")
        L.append("|---|" + "---:|" * len(TP_IMPLS))
        for size in o.sizes:
            cells = [size_label(size)]
            for i in TP_IMPLS:
                mps = m("throughput", i, size, "msgs_per_s")
                mbs = m("throughput", i, size, "mb_per_s")
                cells.append("–" if mps is None else
                             f"{si(mps)} ({mbs:,.0f})")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        L.append("Targets (ratio to raw msgs/s; plain API = best of caf and "
                 "caf-stealing by median):")
        L.append("")
        L.append("| size | plain target | best plain caf | plain | "
                 "batch target | caf-batch | batch |")
        L.append("|---|---:|---:|---|---:|---:|---|")
        for size in o.sizes:
            plain = [(m("throughput", i, size, "ratio_raw"), i)
                     for i in ("caf", "caf-stealing")]
            plain = [p for p in plain if p[0] is not None]
            best = max(plain) if plain else None
            batch = m("throughput", "caf-batch", size, "ratio_raw")
            pt, bt = PLAIN_TARGET[size], BATCH_TARGET[size]
            met = lambda v, t: "–" if v is None else (
                "met" if v >= t else "**not met**")
            L.append("| " + " | ".join([
                size_label(size), f"≥ {pt:.2f}",
                "–" if best is None else f"{ratio_digits(best[0])} ({best[1]})",
                met(best and best[0], pt), f"≥ {bt:.2f}",
                "–" if batch is None else ratio_digits(batch),
                met(batch, bt)]) + " |")
        L.append("")
        L.append("caf relative to zmq (msgs/s ratio, per round):")
        L.append("")
        L.append("| size | caf ×zmq | caf-stealing ×zmq | caf-batch ×zmq |")
        L.append("|---|---:|---:|---:|")
        for size in o.sizes:
            L.append("| " + " | ".join(
                [size_label(size)] +
                [self.fmt("throughput", i, size, "ratio_zmq")
                 for i in ("caf", "caf-stealing", "caf-batch")]) + " |")
        L.append("")
        lost = [(k, v) for k, v in self.s.items()
                if k[0] == "throughput" and k[3] == "lost" and v[2] != 0]
        if lost:
            L.append("**Lost messages** (sent − received, must be 0): " +
                     ", ".join(f"{k[1]} {size_label(k[2])}: max {v[2]:.0f}"
                               for k, v in sorted(lost)))
        else:
            L.append("Lost messages (sent − received): 0 in every run.")
        L.append("")
        for name, alt in images.get("throughput", []):
            L.append(f"![{alt}]({name})")
        L.append("")
        return L

    def latency(self, images):
        m = self.med
        L = ["### Latency", "",
             "64-byte request/echo round trips, one in flight, 5000 measured "
             "after 1000 warm-up; default placement and both processes "
             "pinned to CPU 0 (`taskset -c 0`). caf-1thread: sharing "
             "scheduler, `--scheduler.max-threads=1`.", ""]
        L.append("| impl | p50 µs | p99 µs | p50 ×raw | pinned p50 µs | "
                 "pinned p99 µs | pinned p50 ×raw |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        us = lambda x: f"{x:.1f}"
        for impl in LAT_IMPLS:
            cells = [impl]
            for pl in ("default", "pinned"):
                cells += [self.fmt("latency", impl, pl, "p50_us", us),
                          self.fmt("latency", impl, pl, "p99_us", us,
                                   spread=False),
                          "1" if impl == "raw" else
                          self.fmt("latency", impl, pl, "p50_ratio_raw",
                                   lambda x: f"{x:.2f}")]
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        caf = m("latency", "caf", "pinned", "p50_ratio_raw")
        zmq = m("latency", "zmq", "pinned", "p50_ratio_raw")
        best = [(m("latency", i, "pinned", "p50_ratio_raw"), i)
                for i in ("caf", "caf-stealing", "caf-1thread")]
        best = min([b for b in best if b[0] is not None], default=None)
        if caf is not None:
            L.append(f"Targets: caf (system_config's defaults) pinned p50 ≤ "
                     f"{LAT_DEFAULT_TARGET:.1f} × raw pinned p50: measured "
                     f"{caf:.2f} × — "
                     f"{'met' if caf <= LAT_DEFAULT_TARGET else '**not met**'}"
                     + (f"; best documented setting ({best[1]}) ≤ "
                        f"{LAT_TARGET:.1f} ×: {best[0]:.2f} × — "
                        f"{'met' if best[0] <= LAT_TARGET else '**not met**'}"
                        if best else "")
                     + (f"; zmq pinned: {zmq:.2f} × (reference: about "
                        f"{ZMQ_LAT_REFERENCE} ×)." if zmq is not None else "."))
            L.append("")
        else:
            L.append(f"Target: caf pinned p50 ≤ {LAT_TARGET:.1f} × raw pinned "
                     f"p50: not measured.")
            L.append("")
        for name, alt in images.get("latency", []):
            L.append(f"![{alt}]({name})")
        L.append("")
        return L

    def scale(self):
        o = self.o
        m = self.med
        L = ["### Many connections", "",
             "Echo servers with a 1 s heartbeat; the raw epoll scale client "
             "opens N connections, one 16-byte hello each (establish time: "
             "until every echo arrived), then holds them idle with 1 s "
             "heartbeats for 7 s. Server CPU over 4 s of the hold (% of one "
             "core); bytes per connection = server RSS growth from before "
             "the client to the end of that window, over N. Listen "
             "overflows: the kernel's TcpExt ListenOverflows during the "
             "connect phase (a full accept queue drops the SYN, which the "
             "client retransmits after 1 s: an establish time above 1 s "
             "usually means this).", ""]
        L.append("| server | N | establish s | CPU % | bytes/conn | "
                 "RSS before → after MiB | listen overflows |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        f3 = lambda x: f"{x:.3f}"
        f1 = lambda x: f"{x:.1f}"
        f0 = lambda x: f"{x:,.0f}"
        for n in o.scale_ns:
            for impl in SCALE_SERVERS:
                r0 = m("scale", impl, n, "rss_start_b")
                r1 = m("scale", impl, n, "rss_end_b")
                L.append("| " + " | ".join([
                    impl, str(n),
                    self.fmt("scale", impl, n, "establish_s", f3),
                    self.fmt("scale", impl, n, "cpu_pct", f1),
                    self.fmt("scale", impl, n, "bytes_per_conn", f0),
                    "–" if r0 is None else
                    f"{r0 / 2**20:.1f} → {r1 / 2**20:.1f}",
                    self.fmt("scale", impl, n, "listen_overflows", f0)])
                    + " |")
        L.append("")
        if 10000 in o.scale_ns:
            for impl in ("caf", "caf-stealing"):
                cpu = m("scale", impl, 10000, "cpu_pct")
                bpc = m("scale", impl, 10000, "bytes_per_conn")
                if cpu is None:
                    continue
                L.append(f"Targets, {impl} at 10000: CPU < "
                         f"{SCALE_CPU_TARGET:g} %: {cpu:.1f} % — "
                         f"{'met' if cpu < SCALE_CPU_TARGET else '**not met**'}"
                         f"; ≤ {SCALE_BPC_TARGET} B/connection: {bpc:,.0f} B — "
                         f"{'met' if bpc <= SCALE_BPC_TARGET else '**not met**'}.  ")
            L.append("")
        raw = m("connect", "raw", 5000, "establish_s")
        caf = m("connect", "caf", 5000, "establish_s")
        ratio = m("connect", "caf", 5000, "ratio_raw")
        L.append("Connecting 5000 clients (to an echo server of the same "
                 "kind; raw scale-client vs caf scale-client):")
        L.append("")
        L.append("| client → server | establish s | ×raw | listen overflows |")
        L.append("|---|---:|---:|---:|")
        L.append(f"| raw → raw | {self.fmt('connect', 'raw', 5000, 'establish_s', f3)} | 1 | "
                 f"{self.fmt('connect', 'raw', 5000, 'listen_overflows', f0)} |")
        L.append(f"| caf → caf | {self.fmt('connect', 'caf', 5000, 'establish_s', f3)} | "
                 f"{self.fmt('connect', 'caf', 5000, 'ratio_raw', lambda x: f'{x:.2f}')} | "
                 f"{self.fmt('connect', 'caf', 5000, 'listen_overflows', f0)} |")
        L.append("")
        if ratio is not None:
            L.append(f"Target: caf/raw ≤ {CONNECT_TARGET}: {ratio:.2f} — "
                     f"{'met' if ratio <= CONNECT_TARGET else '**not met**'}.")
            L.append("")
        return L

    def faults(self):
        f3 = lambda x: f"{x:.3f}"
        L = ["### Reconnect and stuck detection", ""]
        if "reconnect" in self.o.only:
            L.append("Reconnect: the server is SIGKILLed, the caf watcher sees "
                     "`disconnected`, the server is started again on the same "
                     "port 0.3 s later; time from its `listening` to the "
                     "watcher's `connected` (both CLOCK_MONOTONIC). Expected: "
                     "between 0 and one reconnect period.")
            L.append("")
            L.append("| reconnect period | reconnect s |")
            L.append("|---:|---:|")
            for p in (1000, 100):
                L.append(f"| {p} ms | "
                         f"{self.fmt('reconnect', 'caf', p, 'reconnect_s', f3)} |")
            L.append("")
        if "stuck" in self.o.only:
            L.append("Stuck detection: caf watcher and caf echo server with "
                     "the same heartbeat period (timeout 4 × period); the "
                     "server is SIGSTOPped 1.2 s after `connected`; time to "
                     "the watcher's `disconnected`. Expected: between the "
                     "timeout minus one period and the timeout.")
            L.append("")
            L.append("| heartbeat | timeout | detected after s | ×timeout |")
            L.append("|---:|---:|---:|---:|")
            for hb in (500, 1000):
                L.append(f"| {hb} ms | {4 * hb / 1000:g} s | "
                         f"{self.fmt('stuck', 'caf', hb, 'detect_s', f3)} | "
                         f"{self.fmt('stuck', 'caf', hb, 'ratio_timeout', lambda x: f'{x:.2f}')} |")
            L.append("")
        return L


# ---- plots -------------------------------------------------------------------

def png_terminal():
    for term in ("pngcairo", "png"):
        try:
            r = subprocess.run(["gnuplot", "-e", f"set terminal {term}"],
                               capture_output=True, text=True, timeout=20)
            if r.returncode == 0 and not r.stderr.strip():
                return term
        except (OSError, subprocess.SubprocessError):
            return None
    return None


def size_axes(png, title, ylabel, sizes, extra=""):
    """gnuplot lines for a log-log plot over the payload sizes."""
    xtics = ", ".join(f'"{size_label(x)}" {x}' for x in sizes)
    return (f"set output '{png}'\n"
            f"set title '{title}'\n"
            "set logscale xy\n"
            "set xlabel 'payload bytes'\n"
            f"set ylabel '{ylabel}'\n"
            f"set xtics ({xtics})\n"
            + extra +
            "set grid\n"
            "set key outside right\n"
            f"set xrange [{sizes[0] / 2}:{sizes[-1] * 2}]\n")


def plots(summary, opts, work, outdir, rel):
    """Writes .dat/.gp into `work`, PNGs into `outdir`; returns
    {section: [(relative png path, alt text)]}."""
    term = png_terminal()
    if term is None:
        log("!! gnuplot with a PNG terminal not found: no plots")
        return {}
    outdir.mkdir(parents=True, exist_ok=True)
    m = summary.med
    images = {}
    jobs = []
    font = "font 'sans,10'" if term == "pngcairo" else ""
    head = f"set terminal {term} size 900,560 {font}\nset datafile missing 'NaN'\n"
    num = lambda v: "NaN" if v is None else repr(v)
    if "throughput" in opts.only:
        dat = work / "throughput.dat"
        with open(dat, "w") as f:
            f.write("# size " + " ".join(TP_IMPLS) + "  (median msgs/s)\n")
            for s in opts.sizes:
                f.write(f"{s} " + " ".join(num(m("throughput", i, s, "msgs_per_s"))
                                          for i in TP_IMPLS) + "\n")
        png = outdir / "throughput.png"
        gp = head + size_axes(png, f"Throughput, one connection (median of {opts.rounds} round(s))",
                              "messages per second", opts.sizes,
                              "set format y '10^{%L}'\n") + "plot " + ", \\\n     ".join(
            f"'{dat}' using 1:{k + 2} with linespoints lw 2 pt 7 "
            f"lc rgb '{COLOR[i]}' title '{i}'"
            for k, i in enumerate(TP_IMPLS)) + "\n"
        jobs.append((work / "throughput.gp", gp))
        dat2 = work / "ratio.dat"
        with open(dat2, "w") as f:
            f.write("# size " + " ".join(TP_IMPLS[1:]) +
                    " plain_target batch_target  (median ratio to raw)\n")
            for s in opts.sizes:
                f.write(f"{s} " + " ".join(num(m("throughput", i, s, "ratio_raw"))
                                          for i in TP_IMPLS[1:])
                        + f" {PLAIN_TARGET[s]} {BATCH_TARGET[s]}\n")
        png2 = outdir / "ratio.png"
        gp = head + size_axes(png2, f"Messages per second relative to raw epoll (median of {opts.rounds} round(s))",
                              "ratio to raw", opts.sizes) + "plot " + ", \\\n     ".join(
            [f"'{dat2}' using 1:{k + 2} with linespoints lw 2 pt 7 "
             f"lc rgb '{COLOR[i]}' title '{i}'"
             for k, i in enumerate(TP_IMPLS[1:])] +
            [f"'{dat2}' using 1:{len(TP_IMPLS) + 1} with linespoints dt 2 lw 2 "
             f"pt 6 lc rgb 'black' title 'target (plain API)'",
             f"'{dat2}' using 1:{len(TP_IMPLS) + 2} with linespoints dt 3 lw 2 "
             f"pt 4 lc rgb 'gray40' title 'target (batch API)'"]) + "\n"
        jobs.append((work / "ratio.gp", gp))
        images["throughput"] = [
            (f"{rel}/throughput.png", "Throughput, msgs/s vs payload size"),
            (f"{rel}/ratio.png", "Ratio to raw vs payload size, with targets")]
    if "latency" in opts.only:
        dat = work / "latency.dat"
        impls = [i for i in LAT_IMPLS
                 if m("latency", i, "default", "p50_us") is not None
                 or m("latency", i, "pinned", "p50_us") is not None]
        with open(dat, "w") as f:
            f.write("# impl p50_default p50_pinned p99_default p99_pinned (us)\n")
            for i in impls:
                f.write(f"{i} " + " ".join(num(m("latency", i, pl, met))
                                          for met in ("p50_us", "p99_us")
                                          for pl in ("default", "pinned"))
                        + "\n")
        png = outdir / "latency.png"
        gp = head + f"""set output '{png}'
set title 'Round-trip latency, 64 B (median of {opts.rounds} round(s))'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1:*]
set ylabel 'microseconds (log scale)'
set grid ytics
set key outside right
plot '{dat}' using 2:xtic(1) title 'p50 default' lc rgb '#4e79a7', \\
     '' using 3 title 'p50 pinned' lc rgb '#a0cbe8', \\
     '' using 4 title 'p99 default' lc rgb '#e15759', \\
     '' using 5 title 'p99 pinned' lc rgb '#ff9d9a'
"""
        jobs.append((work / "latency.gp", gp))
        images["latency"] = [(f"{rel}/latency.png",
                              "Latency p50/p99 per implementation")]
    for path, text in jobs:
        path.write_text(text)
        try:
            r = subprocess.run(["gnuplot", str(path)], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0 or r.stderr.strip():
                log(f"!! gnuplot {path.name}: {r.stderr.strip()}")
        except (OSError, subprocess.SubprocessError) as e:
            log(f"!! gnuplot {path.name}: {e}")
    return images


# ---- docs --------------------------------------------------------------------

DOC_HEADER = f"""# Benchmarks

libnetasync-caf measured against two references on one machine over
127.0.0.1: **raw** — plain sockets and epoll speaking the same wire format
(`benchmarks/raw_epoll.cpp`, the practical limit), and **zmq** — libzmq with
default settings (`benchmarks/zmq_bench.cpp`). The library's side is
`benchmarks/netasync_bench.cpp`, through the normal API only: a sender actor,
a connection handle, a subscriber actor in the other process.

Run everything (installs what is missing, builds, 3 interleaved rounds, then
regenerates the section below, the plots in `docs/benchmarks/` and
`build/bench/results.csv`):

```sh
scripts/bench.sh            # or: python3 benchmarks/run.py [--rounds N] [--only throughput,latency,...]
```

Everything between the markers below is generated by `benchmarks/run.py`.

{BEGIN}
{END}
"""


def write_docs(path, body):
    if path.exists():
        text = path.read_text()
    else:
        text = DOC_HEADER
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        pre = text[:text.index(BEGIN) + len(BEGIN)]
        post = text[text.index(END):]
    else:
        log(f"!! {path}: markers not found: appending them")
        pre = text.rstrip("\n") + "\n\n" + BEGIN
        post = END + "\n"
    path.write_text(pre + "\n" + body.rstrip("\n") + "\n" + post)


# ---- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="throughput send duration (whole seconds: the "
                         "programs take integers)")
    ap.add_argument("--quick", action="store_true",
                    help="1 round, sizes 16 and 65536, D=0.5, scale 1000; "
                         "docs/ untouched unless --write-docs")
    ap.add_argument("--write-docs", action="store_true",
                    help="with --quick: write docs/ anyway")
    ap.add_argument("--no-docs", action="store_true",
                    help="leave docs/ alone (plots go to build/bench/plots/)")
    ap.add_argument("--bin", default=None, help="program directory (build/bin)")
    ap.add_argument("--only", default=",".join(BENCHES),
                    help="comma list of " + ",".join(BENCHES))
    o = ap.parse_args()
    o.only = [x.strip() for x in o.only.split(",") if x.strip()]
    bad = [x for x in o.only if x not in BENCHES]
    if bad:
        ap.error(f"--only: unknown {bad}; choose from {BENCHES}")
    o.bin = Path(o.bin).resolve() if o.bin else ROOT / "build" / "bin"
    explicit = lambda flag: any(a == flag or a.startswith(flag + "=")
                                for a in sys.argv[1:])
    if o.quick:
        if not explicit("--rounds"):
            o.rounds = 1
        if not explicit("--seconds"):
            o.seconds = 0.5
        o.sizes = QUICK_SIZES
        o.scale_ns = [1000]
    else:
        o.sizes = SIZES
        o.scale_ns = [1000, 10000]
    if o.rounds < 1 or o.seconds <= 0:
        ap.error("--rounds and --seconds must be positive")
    # The three programs take --seconds as an integer >= 1.
    o.send_seconds = max(1, math.ceil(o.seconds))
    o.command = shlex.join(["python3", "benchmarks/run.py"] + sys.argv[1:])
    if os.environ.get("NETASYNC_BENCH_VIA"):
        o.command = (f"{os.environ['NETASYNC_BENCH_VIA']}`, which runs "
                     f"`{o.command}")
    docs = ((not o.quick) or o.write_docs) and not o.no_docs

    for p in ("netasync-bench-raw", "netasync-bench-caf"):
        if not (o.bin / p).exists():
            sys.exit(f"error: {o.bin / p} not found; build first "
                     f"(cmake --build build --target {p})")
    work = ROOT / "build" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    global LOGFILE
    LOGFILE = open(work / "run.log", "w")
    logfile(f"command: {o.command}")

    def on_term(signum, frame):
        raise KeyboardInterrupt  # so that every finally kills its processes
    signal.signal(signal.SIGTERM, on_term)
    t_start = time.monotonic()
    results = Results(work / "results.csv")
    runner = Runner(o, results)
    if o.send_seconds != o.seconds and "throughput" in o.only:
        runner.warn(f"--seconds {o.seconds:g}: the benchmark programs take "
                    f"whole seconds; senders run {o.send_seconds} s")
    o.lat_count, o.lat_warmup = 5000, 1000
    log(f"benchmarks: {o.rounds} round(s) of {', '.join(o.only)}; "
        f"programs from {o.bin}; log in {work / 'run.log'}")
    interrupted = False
    try:
        for rnd in range(1, o.rounds + 1):
            log(f"== round {rnd} of {o.rounds} ==")
            runner.round(rnd)
    except KeyboardInterrupt:
        interrupted = True
        runner.failures.append("interrupted (SIGINT): partial results")
        log("!! interrupted: summarising what was measured")
    finally:
        results.close()
    o.wall = time.monotonic() - t_start

    summary = Summary(results.stats(), o, runner.failures, runner.warnings)
    if docs:
        outdir, rel = ROOT / "docs" / "benchmarks", "benchmarks"
    else:
        outdir, rel = work / "plots", "plots"
    images = plots(summary, o, work, outdir, rel)
    body = summary.render(images)
    (work / "summary.md").write_text(body)
    if docs:
        write_docs(ROOT / "docs" / "benchmarks.md", body)
        log(f"wrote docs/benchmarks.md, {outdir.relative_to(ROOT)}/*.png, "
            f"{(work / 'results.csv').relative_to(ROOT)}")
    else:
        log(f"docs/ untouched; see {work / 'summary.md'} and "
            f"{outdir}/*.png")
    print(body)
    log(f"wall time {o.wall:.0f} s")
    if runner.failures or interrupted:
        log(f"!! {len(runner.failures)} measurement(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
