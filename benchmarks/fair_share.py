"""Benchmark: a second visitor is served promptly whatever the first one does (issue 16).

Example:
    python -m benchmarks.fair_share --weights weights/avatar-studio --out runs/fair_share.json

Starts ``python app.py`` in a child process on 127.0.0.1 (its own Gradio temp folder), then:

  flood   the attacker (127.0.0.1) floods the costliest events the page can trigger: --threads
          threads, each a page session joining a 32-frame morph of 1024 px recipes and waiting
          for it, plus one thread joining 1024 px sticker packs fire-and-forget as fast as it
          can; meanwhile the victim (127.0.0.2, a second loopback address) asks /design for a
          512 px avatar --designs times, one after another (each request given 60 s, all of them
          150 s; a failure is counted, not timed): the victim's p50/p99/max latency
          (bar: p99 <= 2 s), its failures, and how many attacker requests were accepted/refused
  memory  the server's RSS before and after --joins fire-and-forget joins of the cheapest event,
          each with a made-up 100 KB session id (bar: <= +30 MB)

Prints one JSON object (--out writes it too). All traffic stays on 127.0.0.1/127.0.0.2.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from pathlib import Path

import httpx

from benchmarks import report
from tests.harness import Server, call, percentile

VICTIM = "127.0.0.2"
P99_BAR_S, RSS_BAR_MB = 2.0, 30.0


def _recipe(seed: int, size: int, **extra) -> str:
    return json.dumps({"seed": seed, "spec": {}, "size": size, **extra})


def _join(http: httpx.Client, base: str, fn_index: int, data: list, session: str, listen: bool) -> int:
    r = http.post(f"{base}/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session})
    if r.status_code == 200 and listen:
        with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    break
    return r.status_code


def flood(server: Server, index: dict, threads: int, designs: int, deadline_s: float = 150) -> dict:
    base, stop, codes = server.url, threading.Event(), []
    heavy = _recipe(1, 1024, frame="circle", border="#000000", background="#ffffff")

    def morphs(k: int) -> None:
        with httpx.Client(timeout=120) as http:
            while not stop.is_set():
                try:
                    codes.append(_join(http, base, index["morph"], [heavy, _recipe(2, 1024), 32], f"morph{k}", True))
                except httpx.HTTPError:
                    codes.append(0)

    def stickers() -> None:
        with httpx.Client(timeout=120) as http:
            n = 0
            while not stop.is_set():
                try:
                    codes.append(_join(http, base, index["sticker_pack"], ["en", heavy], f"fire{n % 1000}", False))
                except httpx.HTTPError:
                    codes.append(0)
                n += 1

    workers = [threading.Thread(target=morphs, args=(k,), daemon=True) for k in range(threads)]
    workers.append(threading.Thread(target=stickers, daemon=True))
    for t in workers:
        t.start()
    time.sleep(2.0)                                  # the flood is on before the victim comes
    latencies, failures = [], []
    t0 = time.monotonic()
    with httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address=VICTIM)) as victim:
        for seed in range(designs):
            if time.monotonic() - t0 > deadline_s:        # a starved victim: stop asking, count the rest
                failures += ["not asked: the victim's time was up"] * (designs - seed)
                break
            try:
                answer = call(victim, base, "design", [_recipe(100 + seed, 512)])
            except httpx.HTTPError as e:
                failures.append(f"{type(e).__name__}: {e}"[:200])
                continue
            if answer.kind == "png":
                latencies.append(answer.seconds)
            else:
                failures.append(f"{answer.kind}: {answer.detail[:200]}")
    elapsed = time.monotonic() - t0
    stop.set()
    for t in workers:
        t.join(timeout=180)
    latencies.sort()
    return {"attacker_threads": threads + 1, "victim_designs": designs, "seconds": round(elapsed, 1),
            "victim_ok": len(latencies), "victim_failures": len(failures), "first_failures": failures[:3],
            "p50_ms": round(percentile(latencies, 0.5) * 1000) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99) * 1000) if latencies else None,
            "max_ms": round(latencies[-1] * 1000) if latencies else None,
            "attacker_joins": len(codes), "attacker_accepted": codes.count(200), "attacker_refused": codes.count(429),
            "attacker_other": len(codes) - codes.count(200) - codes.count(429),
            "workers_still_running": sum(t.is_alive() for t in workers)}


def memory(server: Server, index: dict, joins: int) -> dict:
    with httpx.Client(timeout=60) as http:
        _join(http, server.url, index["roll_seed"], [], uuid.uuid4().hex, True)
        time.sleep(1)
        before = server.rss_mb()
        codes = []
        for i in range(joins):
            session = f"{i:08d}" + "s" * 100_000
            try:
                codes.append(_join(http, server.url, index["roll_seed"], [], session, False))
            except httpx.HTTPError:
                codes.append(0)
        time.sleep(3)
        after = server.rss_mb()
    return {"joins": joins, "session_id_bytes": 100_008, "accepted": codes.count(200), "refused": codes.count(422),
            "other": len(codes) - codes.count(200) - codes.count(422),
            "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1), "rss_growth_mb": round(after - before, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fair_share", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="weights folder (weights/NAME)")
    parser.add_argument("--threads", type=int, default=8, help="attacker threads waiting for morphs (default 8)")
    parser.add_argument("--designs", type=int, default=50, help="the victim's /design requests (default 50)")
    parser.add_argument("--joins", type=int, default=5000, help="joins with 100 KB session ids (default 5000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    with Server(args.weights) as server:
        index = {d["api_name"]: d["id"] for d in httpx.get(server.url + "/config").json()["dependencies"]}
        result = {"weights": str(args.weights), "flood": flood(server, index, args.threads, args.designs)}
        fl = result["flood"]
        print(f"flood: victim /design p50 {fl['p50_ms']} ms, p99 {fl['p99_ms']} ms, max {fl['max_ms']} ms "
              f"({fl['victim_ok']} ok, {fl['victim_failures']} failed; bar p99 <= {P99_BAR_S * 1000:.0f} ms); attacker "
              f"{fl['attacker_joins']} joins, {fl['attacker_accepted']} accepted, {fl['attacker_refused']} refused",
              flush=True)
        result["memory"] = mem = memory(server, index, args.joins)
        print(f"memory: {mem['joins']} joins with 100 KB session ids ({mem['refused']} refused): RSS "
              f"{mem['rss_before_mb']} -> {mem['rss_after_mb']} MB ({mem['rss_growth_mb']:+} MB; "
              f"bar <= +{RSS_BAR_MB:.0f})", flush=True)
        result["server_alive"] = server.alive
        result["server_tracebacks"] = server.output().count("Traceback")
    report(result, args.out)


if __name__ == "__main__":
    main()
