"""Benchmark: one visitor flooding the live picture's fast path (fastpath.py) and a second visitor's pictures.

Example:
    python -m benchmarks.fast_path --weights weights/avatar-studio --out runs/fast_path.json

Starts ``python app.py`` in a child process on 127.0.0.1 (its own Gradio temp folder), then the
victim (127.0.0.2, a second loopback address) asks, one after another, --n times each:

  live     POST /avatar-studio/live for a new seed (the page's fast path)
  design   /design through Gradio's queue (a 256 px PNG; the queued renders every page waits on)

first alone, then while the attacker (127.0.0.1) floods the fast path from --pages page ids, each
asking for a new picture as soon as its last one came (more pages than one address may have:
the surplus is refused). Prints the victim's p50/worst in each phase, their ratios (flooded /
alone), and the attacker's answers by status; --out writes the JSON too. All traffic stays on
127.0.0.1/127.0.0.2. Timings are wall-clock on whatever else the machine does: say how busy it was.
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from benchmarks import report
from tests.harness import Server, call, percentile

VICTIM = "127.0.0.2"


def _victim(base: str, form: list, seed_index: int, n: int, offset: int) -> dict:
    live, design = [], []
    with httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address=VICTIM)) as http:
        for i in range(n):
            values = list(form)
            values[seed_index] = offset + i
            t = time.perf_counter()
            r = http.post(f"{base}/avatar-studio/live?lang=en", json={"page": "victim", "values": values})
            assert r.status_code == 200, r.text
            live.append(time.perf_counter() - t)
            answer = call(http, base, "design", [json.dumps({"seed": offset + i, "spec": {}, "size": 256})])
            assert answer.kind == "png", answer
            design.append(answer.seconds)
    return {name: {"p50_ms": round(percentile(sorted(s), 0.5) * 1000, 1), "worst_ms": round(max(s) * 1000, 1)}
            for name, s in (("live", live), ("design", design))}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--weights", type=Path, default=Path("weights/avatar-studio"))
    ap.add_argument("--n", type=int, default=20, help="victim requests of each kind, per phase")
    ap.add_argument("--pages", type=int, default=10, help="attacker page ids flooding at once")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from avatar_studio import AvatarStudio
    from avatar_studio.form import Form
    form = Form(AvatarStudio.from_pretrained(args.weights, device="cpu"))
    values, seed_index = form.values_of(form.start)[0], form.fields.index("seed")
    with Server(args.weights) as server:
        _victim(server.url, values, seed_index, 2, 0)                   # warm
        alone = _victim(server.url, values, seed_index, args.n, 100)
        stop, statuses = threading.Event(), Counter()

        def flood(page: int) -> None:
            with httpx.Client(timeout=60) as http:
                seed = 10_000 * (page + 1)
                while not stop.is_set():
                    seed += 1
                    v = list(values)
                    v[seed_index] = seed
                    statuses[http.post(f"{server.url}/avatar-studio/live?lang=en",
                                       json={"page": f"flood{page}", "values": v}).status_code] += 1
        threads = [threading.Thread(target=flood, args=(k,), daemon=True) for k in range(args.pages)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        flooded = _victim(server.url, values, seed_index, args.n, 200)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        healthy = server.alive and "Traceback" not in server.output()
    result = {"alone": alone, "flooded": flooded,
              "ratio_p50": {k: round(flooded[k]["p50_ms"] / alone[k]["p50_ms"], 2) for k in alone},
              "attacker_answers": dict(sorted(statuses.items())), "server_healthy": healthy,
              "load_1min": os.getloadavg()[0]}
    return report(result, args.out)


if __name__ == "__main__":
    main()
