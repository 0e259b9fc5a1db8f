"""Benchmark: the served app under load, with a full queue, and over a long run of requests.

Example:
    python -m benchmarks.load --weights weights/avatar-studio --clients 64 --seconds 30 --soak 1000
    python -m benchmarks.load --weights weights/avatar-studio --soak 1000 --delete-cache 2,4 \
        --state-capacity 50 --out /tmp/load.json       # see temp files swept and memory level off

Starts the app in a child process on 127.0.0.1 with a Gradio temp folder of its own: app.py itself,
or, when --max-size, --delete-cache or --state-capacity change a setting, the same build_demo +
serving.launch with those settings changed (tests/harness.py, shared with the server tests). Then
drives /design over Gradio's HTTP API the way any client does (POST /gradio_api/call/design, read the event stream, fetch the PNG, check it decodes):

  load        --clients threads, each its own connection, asking one after another for --seconds:
              requests, errors, results that are not a valid PNG, throughput, p50/p99 latency
  queue_full  a burst of 2 x the queue's max_size at once: answered with a PNG, refused with
              Gradio's "Queue is full" (503), anything else; then one request, which must succeed
  soak        --soak requests one after another: errors, the server's RSS and open files after a
              warm-up and at the end, and Gradio temp files (most seen, and after a delete_cache sweep).
              Each request is a Gradio session, whose page state (~0.2 MB) Gradio keeps for the
              last state_session_capacity sessions (the app's: 2000), so RSS grows until then

Prints one JSON object (--out writes it too). All traffic goes to 127.0.0.1.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from avatar_studio.serving import SETTINGS
from benchmarks import report
from tests.harness import SHIPPED_DELETE_CACHE, Server, load, pair, queue_full, soak


# ---- command line ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="weights folder (weights/NAME)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients of the load phase (default 64)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the load phase (default 30)")
    parser.add_argument("--soak", type=int, default=1000, help="sequential requests of the soak (default 1000)")
    parser.add_argument("--size", type=int, default=512, help="export size asked for (default 512)")
    parser.add_argument("--max-size", type=int, default=None, help="queue max_size instead of the app's")
    parser.add_argument("--delete-cache", type=pair, default=None,
                        help=f"delete_cache FREQUENCY,AGE in s instead of the app's {SHIPPED_DELETE_CACHE}")
    parser.add_argument("--state-capacity", type=int, default=None,
                        help="state_session_capacity instead of the app's (each /call request is a session)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.soak < 0:
        parser.error("--clients must be >= 1, --seconds > 0 and --soak >= 0")
    max_size = args.max_size or SETTINGS.max_queue
    with Server(args.weights, max_size=args.max_size, delete_cache=args.delete_cache,
                state_capacity=args.state_capacity) as server:
        result = {"weights": str(args.weights), "load": load(server.url, args.clients, args.seconds, args.size),
                  "queue_full": queue_full(server.url, 2 * max_size, args.size),
                  "soak": soak(server, args.soak, args.size, args.delete_cache,
                               state_capacity=args.state_capacity) if args.soak else None}
        result["server_alive"] = server.alive
        result["server_tracebacks"] = server.output().count("Traceback")
    ld, qf, sk = result["load"], result["queue_full"], result["soak"]
    print(f"load: {ld['clients']} clients, {ld['seconds']} s, {ld['requests']} requests, {ld['errors']} errors; "
          f"{ld['throughput_per_s']} req/s, p50 {ld['p50_ms']} ms, p99 {ld['p99_ms']} ms")
    print(f"queue full: burst {qf['burst']}: {qf['png']} PNGs, {qf['queue_full']} 'queue is full', "
          f"{qf['other']} other; next request {qf['next_request']} in {qf['next_request_ms']} ms")
    if sk:
        print(f"soak: {sk['requests']} requests, {sk['errors']} errors; RSS {sk['rss_after_warmup_mb']} -> "
              f"{sk['rss_end_mb']} MB ({sk['rss_growth_per_request_kb']} KB a request; Gradio keeps the state of the "
              f"last {sk['state_session_capacity']} sessions); temp files max {sk['temp_files_max']}, "
              f"after sweep {sk['temp_files_after_sweep']}")
    report(result, args.out)


if __name__ == "__main__":
    main()
