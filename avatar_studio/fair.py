"""Fair share: one visitor cannot take the studio away from everyone else (no gradio here).

The rules the RequestGuard enforces, as plain functions and one ledger:

- A *client* is its address, and within it its page session. The address is the TCP peer,
  unless the app runs behind trusted proxies (``proxy_hops`` > 0: a Hugging Face Space has one,
  whose peer address is internal): then it is the ``proxy_hops``-th entry from the right of
  X-Forwarded-For, the one the nearest trusted proxy appended. Entries further left are written
  by the client itself and are never trusted; uvicorn's own X-Forwarded-For rewriting is turned
  off by ``serving.launch`` so that this rule is the only one.
- A session id is at most 64 characters of [A-Za-z0-9_-] (Gradio's own are 11-32): made-up
  long ids would otherwise key Gradio's per-session dicts with the attacker's bytes.
- Each client has a bounded number of events waiting or running (per session and per
  address, fewer in the lane of expensive work), and each lane serves clients in turn
  (round robin by address), so a flood only delays its own sender.
- One event does at most ``MAX_EVENT_WORK`` units of work (``work``).
- A client over its bounds is answered 429 after ``refusal_delay`` (the request waits, the
  server does nothing), so retrying in a tight loop does not eat the CPU the others need.
- Work nobody waits for is not done: an event still queued ``grace`` seconds after it joined,
  whose session has no result stream open, is dropped, never silently: its session is sent an
  error saying so (in English and 中文), which a stream that opens late (a busy machine or
  connection) still hears for ``told_for`` seconds, so a page never waits for a result that
  will not come.
"""
from __future__ import annotations

import ipaddress
import re
import time
from collections import deque
from dataclasses import dataclass

SESSION_HASH = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_EVENT_WORK = 128.0      # one avatar painted = 1, finishing it at s px = (s / 256)^2 more


def work(images: int, size: int) -> float:
    """Work units of painting ``images`` avatars and finishing each at ``size`` px.

    Measured on the shipped model (2 busy vCPUs): ~60 ms a unit, so a sticker pack (13
    expressions) at 512 px is 65 units (4.3 s), at 1024 px 221 (15.9 s); a 64-frame morph 252.
    """
    return images * (1 + (size / 256) ** 2)


def check_work(what: str, images: int, size: int) -> None:
    """Refuse one request that would do more than MAX_EVENT_WORK units."""
    units = work(images, size)
    if units > MAX_EVENT_WORK:
        raise ValueError(f"{what} at {size} px is too much work for one request ({images} pictures, "
                         f"{units:.0f} units; at most {MAX_EVENT_WORK:.0f}): choose a smaller size or fewer frames")


def check_session(value: object) -> str | None:
    """A session id as Gradio's clients make them, or None (Gradio then makes one)."""
    if value is None:
        return None
    if not isinstance(value, str) or not SESSION_HASH.fullmatch(value):
        raise ValueError("session_hash must be 1 to 64 letters, digits, '-' or '_'")
    return value


def client_address(peer: str | None, forwarded_for: list[str], proxy_hops: int) -> str:
    """The client's address: the peer, or the entry the nearest of ``proxy_hops`` trusted proxies appended."""
    peer = peer or "unknown"
    if proxy_hops <= 0:
        return peer
    entries = [e.strip() for header in forwarded_for for e in header.split(",") if e.strip()]
    if len(entries) < proxy_hops:
        return peer
    try:
        return str(ipaddress.ip_address(entries[-proxy_hops]))
    except ValueError:               # not an address: the proxy did not write it
        return peer


@dataclass(frozen=True)
class Limits:
    per_session: int = 4            # events waiting or running, one page session
    per_address: int = 8            # events waiting or running, one address (a household, an office)
    heavy_per_session: int = 1      # of those, in the lane of expensive work
    heavy_per_address: int = 2
    grace: float = 2.0              # s an event may wait in the queue with nobody listening for it
    told_for: float = 60.0          # s the error of an event dropped after the grace waits for a late stream
    uploads_per_minute: int = 30    # per address; each upload holds one file
    refusal_delay: float = 0.5      # s before a client over its bounds hears so: a tight loop of
                                    # refused requests costs the server little, and its sender time
    live_at_once: int = 1           # live pictures made at once on the fast path (fastpath.py), all clients
    live_waiting: int = 64          # live pictures waiting there, all clients (one a page at most)


class Ledger:
    """Who has which events waiting or running, and which sessions are listening for results.

    ``live`` holds the ids of the events waiting or running; entries of finished events are
    dropped whenever a client is counted, so the ledger holds at most the queue's events. Not thread-safe: used on the server's event loop only.
    """

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self.events: dict[str, dict[str, bool]] = {}     # client key -> {event id: heavy}
        self.owner: dict[str, str] = {}                  # event id -> address
        self.listeners: dict[str, int] = {}              # session -> open result streams
        self.uploads: dict[str, deque] = {}              # address -> times of recent uploads
        self.parked: dict[str, object] = {}              # event id -> event nobody listens for yet
        self.told: dict[str, tuple[str, float]] = {}     # dropped event id -> (session, when): its error waits
        self.reserved: dict[str, list[int]] = {}         # client key -> [requests joining, heavy ones]
        self.joining = 0                                 # requests joining now, all clients

    @staticmethod
    def _keys(address: str, session: str | None) -> list[str]:
        return [f"a:{address}"] + ([f"s:{session}"] if session else [])

    def reserve(self, address: str, session: str | None, heavy: bool) -> None:
        """Hold a place for a request while it joins (parallel requests count before they have an id)."""
        self.joining += 1
        for key in self._keys(address, session):
            held = self.reserved.setdefault(key, [0, 0])
            held[0], held[1] = held[0] + 1, held[1] + heavy

    def release(self, address: str, session: str | None, heavy: bool) -> None:
        self.joining -= 1
        for key in self._keys(address, session):
            held = self.reserved.get(key)
            if held is not None:
                held[0], held[1] = held[0] - 1, held[1] - heavy
                if held[0] <= 0:
                    del self.reserved[key]

    def listen(self, session: str) -> None:
        self.listeners[session] = self.listeners.get(session, 0) + 1

    def unlisten(self, session: str) -> None:
        if self.listeners.get(session, 0) <= 1:
            self.listeners.pop(session, None)
        else:
            self.listeners[session] -= 1

    def _count(self, key: str, live) -> tuple[int, int]:
        ids = self.events.get(key)
        if not ids:
            return 0, 0
        for event_id in [e for e in ids if e not in live]:
            del ids[event_id]
            self.owner.pop(event_id, None)
        if not ids:
            del self.events[key]
            return 0, 0
        return len(ids), sum(ids.values())

    def refusal(self, address: str, session: str | None, heavy: bool, live) -> str | None:
        """Why one more event from this client is refused now, or None."""
        lim = self.limits
        for key, most, most_heavy in zip(self._keys(address, session), (lim.per_address, lim.per_session),
                                         (lim.heavy_per_address, lim.heavy_per_session)):
            count, heavy_count = self._count(key, live)
            held = self.reserved.get(key, (0, 0))
            count, heavy_count = count + held[0], heavy_count + held[1]
            if count >= most or (heavy and heavy_count >= most_heavy):
                limit = most_heavy if heavy and heavy_count >= most_heavy else most
                kind = "expensive requests" if limit == most_heavy else "requests"
                return (f"you have {limit} {kind} waiting or running, the most one "
                        f"{'page' if key[0] == 's' else 'address'} may have; wait for them to finish")
        return None

    def add(self, address: str, session: str | None, event_id: str, heavy: bool) -> None:
        for key in self._keys(address, session):
            self.events.setdefault(key, {})[event_id] = heavy
        self.owner[event_id] = address

    def prune(self, live) -> None:
        for key in list(self.events):
            self._count(key, live)
        for event_id in [e for e in self.owner if e not in live]:
            del self.owner[event_id]

    def upload_refusal(self, address: str, now: float | None = None) -> str | None:
        """Count one upload; why it is refused (too many in the last minute), or None."""
        now = time.monotonic() if now is None else now
        times = self.uploads.setdefault(address, deque())
        while times and times[0] < now - 60:
            times.popleft()
        if len(times) >= self.limits.uploads_per_minute:
            return f"at most {self.limits.uploads_per_minute} uploads a minute; try again shortly"
        times.append(now)
        if len(self.uploads) > 10_000:          # forget idle addresses
            for key in [k for k, t in self.uploads.items() if not t or t[-1] < now - 60]:
                del self.uploads[key]
        return None

    def round_robin(self, queue: list) -> None:
        """Reorder a lane's waiting events (each with ``._id``) so that addresses take turns, each in its own order."""
        seen: dict[str, int] = {}
        turns = {}
        for event in queue:
            owner = self.owner.get(event._id, event._id)
            turns[event._id] = seen.get(owner, 0)
            seen[owner] = turns[event._id] + 1
        queue.sort(key=lambda event: turns[event._id])     # stable: first come first within a turn
