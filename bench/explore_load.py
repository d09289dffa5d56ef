"""Load test of `latent explore` on loopback: REQUESTS decode requests (one code each, as a
slider drag sends them) from CLIENTS concurrent clients, each on its own keep-alive
connection; prints one JSON line with the latency percentiles and the throughput.

    python3 bench/explore_load.py --latent target/release/latent --run RUN --data DATA \
        [--requests 1000] [--clients 8] [--neighbours 0]

The server is started here (`latent explore --port 0`), warmed up, measured and stopped.
Only the standard library is used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latent", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--neighbours", type=int, default=0)
    a = ap.parse_args()

    server = subprocess.Popen(
        [a.latent, "explore", "--run", a.run, "--data", a.data, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        for line in server.stdout:
            m = re.search(r"http://([0-9.]+):(\d+)/\?token=([0-9a-f]+)", line)
            if m:
                url = m
                break
        if url is None:
            print(server.stderr.read(), file=sys.stderr)
            raise SystemExit("latent explore printed no address")
        host, port, token = url.group(1), int(url.group(2)), url.group(3)
        headers = {"x-latent-token": token, "content-type": "application/json"}

        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/api/session", headers=headers)
        session = json.loads(conn.getresponse().read())
        conn.close()
        run = session["runs"][0]
        k = run["latent_dim"]
        mean, sd = run["code_mean"], run["code_sd"]

        per_client = [a.requests // a.clients + (i < a.requests % a.clients) for i in range(a.clients)]
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(a.clients + 1)

        def client(i: int, n: int) -> None:
            rng = random.Random(i)
            c = http.client.HTTPConnection(host, port, timeout=30)
            bodies = [
                json.dumps({
                    "run": 0,
                    "points": [{"code": [m + s * rng.uniform(-3, 3) for m, s in zip(mean, sd)]}],
                    "neighbours": a.neighbours,
                })
                for _ in range(n + 5)
            ]
            for body in bodies[:5]:  # warm-up, not measured
                c.request("POST", "/api/decode", body=body, headers=headers)
                c.getresponse().read()
            mine = []
            start.wait()
            for body in bodies[5:]:
                t0 = time.perf_counter()
                c.request("POST", "/api/decode", body=body, headers=headers)
                r = c.getresponse()
                payload = r.read()
                mine.append(time.perf_counter() - t0)
                if r.status != 200:
                    with lock:
                        failures.append(f"{r.status}: {payload[:200]!r}")
            c.close()
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client, args=(i, n)) for i, n in enumerate(per_client)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if failures:
            raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
        ms = sorted(x * 1000 for x in latencies)

        def pct(q: float) -> float:
            return ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))]

        print(json.dumps({
            "benchmark": "explore_load",
            "what": f"decode requests of one code, {a.clients} concurrent clients, loopback",
            "run": run["name"], "method": run["method"], "latent_dim": k,
            "features": len(session["data"]["features"]), "neighbours": a.neighbours,
            "requests": len(ms), "clients": a.clients,
            "p50_ms": round(statistics.median(ms), 2), "p90_ms": round(pct(0.9), 2),
            "p99_ms": round(pct(0.99), 2), "max_ms": round(ms[-1], 2),
            "throughput_per_s": round(len(ms) / wall, 1), "target_p99_ms": 50,
        }))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
