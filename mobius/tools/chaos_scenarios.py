"""The chaos scenarios: each breaks one part of the running pipeline under steady load and
returns its figures, `lost` and `duplicated` first.

lost: queries Kafka accepted that never got a reply. duplicated: rows in ClickHouse beyond one per
request id. A publish the broker refused while it was away is counted as `refused` (the caller
got the error; nothing was accepted, so nothing was lost).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mobius.tools.chaos_evidence import configured_secrets, everything_written
from mobius.tools.chaos_fuzz import DEAD_LETTERED_KINDS, FuzzEvent, malformed_events
from mobius.tools.chaos_rig import ChaosRig, Load
from mobius.tools.stats import percentile
from schemas.events import MAX_IDENTIFIER, QUERY_CODEC, ChatMessage, QueryEvent, ReplyEvent, now_utc
from streams.client import MobiusClient

Scenario = Callable[[ChaosRig, MobiusClient, "ChaosOptions"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ChaosOptions:
    """How hard and how long each scenario pushes."""

    queries: int = 400
    rate: float = 20.0
    outage_s: float = 60.0  # how long the provider stays down
    fault_after_s: float = 5.0  # when, into the load, the fault strikes (sooner in a short load)
    fuzz_events: int = 10_000

    def fault_at(self, count: int) -> float:
        """Seconds into a load of `count` queries when its fault strikes: while it still sends."""
        return min(self.fault_after_s, count / self.rate / 3)


async def _counted(rig: ChaosRig, load: Load, settle_timeout_s: float = 90.0) -> dict[str, Any]:
    """lost, duplicated and the ClickHouse row counts, once the sink has caught up."""
    answered = len(load.replies)

    async def ingested() -> bool:
        return (await rig.rows(load.prefix))[1] >= answered

    await rig.wait_for(ingested, settle_timeout_s)
    rows, distinct = await rig.rows(load.prefix)
    return {
        "sent": len(load.sent),
        "refused": load.refused,
        "answered": answered,
        "lost": load.lost,
        "duplicated": rows - distinct,
        "rows_missing": answered - distinct,
    }


async def _answers(client: MobiusClient) -> bool:
    """One probe query answered ok (what 'recovered' means to a caller)."""
    reply = await client.ask(
        [{"role": "user", "content": "chaos probe: are you back?"}],
        user_id="chaos-probe",
        tier="pro",
        timeout=10,
    )
    return reply.status == "ok"


async def worker_kill(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """kill -9 one of two workers mid-stream with spend caps on; a new worker replaces it."""
    rig.simulator.controls(fixed_latency_ms=800)  # queries are in flight when the kill comes
    calls_before = rig.provider_calls()
    at_kill: dict[str, int] = {}

    async def kill(load: Load) -> None:
        await asyncio.sleep(options.fault_at(options.queries))
        at_kill["in_flight"] = len(load.sent) - len(load.replies)
        rig.live_workers()[0].kill()
        rig.add_worker()

    load = await rig.steady_load(client, "worker_kill", options.queries, options.rate, during=kill)
    rig.simulator.controls(fixed_latency_ms=None)
    figures = await _counted(rig, load)
    calls = rig.provider_calls() - calls_before

    async def settled() -> bool:  # reservations settle at once; a dead owner's lapse within 40 s
        return await rig.org_spend_nano("worker_kill") == load.cost_nano

    settle_s = await rig.wait_for(settled, 60.0)

    async def replaced() -> bool:  # the next scenario starts with two workers again
        return await rig.group_members() == rig.workers_wanted

    return figures | {
        "replacement_joined_s": await rig.wait_for(replaced, 120.0),
        "in_flight_at_kill": at_kill.get("in_flight", 0),
        "provider_calls": calls,
        "provider_calls_within_bound": calls <= len(load.sent) + at_kill.get("in_flight", 0),
        "answers_cost_nano": load.cost_nano,
        "org_spend_nano": await rig.org_spend_nano("worker_kill"),
        "spend_settled_s": settle_s,
    }


async def broker_kill(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """kill -9 the Kafka broker mid-stream and start it again; workers, sink and client resume."""
    kafka = rig.stack.kafka
    if kafka is None:
        return {"skipped": "Kafka is not local: the chaos suite does not kill a remote broker"}
    timings: dict[str, float] = {}

    async def kill(load: Load) -> None:
        await asyncio.sleep(options.fault_at(options.queries))
        kafka.process.kill()
        timings["killed_at"] = asyncio.get_running_loop().time()
        await asyncio.sleep(3.0)
        await asyncio.to_thread(kafka.start)
        timings["back_at"] = asyncio.get_running_loop().time()
        timings["first_reply_after_broker_back_s"] = await rig.wait_for(lambda: _answers(client), 90.0)

    load = await rig.steady_load(client, "broker_kill", options.queries, options.rate, during=kill)
    return await _counted(rig, load) | {
        "broker_down_s": round(timings["back_at"] - timings["killed_at"], 2),
        "first_reply_after_broker_back_s": timings["first_reply_after_broker_back_s"],
    }


async def sink_kill(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """kill -9 the analytics sink during ingest, start it again: no row lost or duplicated."""

    async def kill(load: Load) -> None:
        await asyncio.sleep(options.fault_at(options.queries))
        rig.sink.process.kill()
        await asyncio.sleep(2.0)
        rig.sink.start()

    load = await rig.steady_load(client, "sink_kill", options.queries, options.rate, during=kill)
    return await _counted(rig, load, settle_timeout_s=120.0)


async def redis_kill(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """kill -9 Redis mid-stream and start it again: no crash, budgets fail closed meanwhile, and
    paid answers resume by themselves."""
    redis = rig.stack.redis
    if redis is None:
        return {"skipped": "Redis is not local: the chaos suite does not kill a remote Redis"}
    recovery: dict[str, float] = {}

    async def kill(load: Load) -> None:
        await asyncio.sleep(options.fault_at(options.queries))
        redis.process.kill()
        await asyncio.sleep(3.0)
        await asyncio.to_thread(redis.start)
        recovery["first_ok_after_redis_back_s"] = await rig.wait_for(lambda: _answers(client), 60.0)

    load = await rig.steady_load(client, "redis_kill", options.queries, options.rate, during=kill)
    errors: dict[str, int] = {}
    for reply in load.replies.values():
        if reply.status == "error":
            errors[reply.error_code or "?"] = errors.get(reply.error_code or "?", 0) + 1
    return await _counted(rig, load) | {
        "workers_alive": len(rig.live_workers()),
        "error_replies_by_code": errors,
        "first_ok_after_redis_back_s": recovery["first_ok_after_redis_back_s"],
    }


async def provider_down(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """One provider down for `outage_s`: every query answered through the other."""
    rig.simulator.controls(fixed_latency_ms=200)
    baseline = await rig.steady_load(client, "provider_baseline", int(options.rate * 5), options.rate)

    async def outage(load: Load) -> None:
        rig.simulator.controls(down=["anthropic"])
        await asyncio.sleep(options.outage_s)
        rig.simulator.controls(down=[])

    count = int(options.rate * options.outage_s)
    load = await rig.steady_load(client, "provider_down", count, options.rate, during=outage)
    rig.simulator.controls(fixed_latency_ms=None)
    ok = sum(1 for r in load.replies.values() if r.status == "ok")
    return await _counted(rig, load) | {
        "outage_s": options.outage_s,
        "answered_ok": ok,
        "p99_ms_baseline": baseline.p99_ms(),
        "p99_ms_during_outage": load.p99_ms(),
        "p99_added_ms": round(load.p99_ms() - baseline.p99_ms(), 1),
    }


async def _owed_replies(
    client: MobiusClient, owed: dict[str, asyncio.Future[ReplyEvent]], timeout_s: float = 120.0
) -> dict[str, ReplyEvent]:
    """The replies that came for `owed`, waiting for all of them together."""
    waits = (client.wait(rid, fut, timeout_s) for rid, fut in owed.items())
    results = await asyncio.gather(*waits, return_exceptions=True)
    return {rid: r for rid, r in zip(owed, results, strict=True) if isinstance(r, ReplyEvent)}


async def _drained(rig: ChaosRig, timeout_s: float = 120.0) -> float:
    """Seconds until the workers' group has committed every query (-1: a partition is wedged)."""

    async def no_lag() -> bool:
        return await rig.queries_lag() == 0

    return await rig.wait_for(no_lag, timeout_s)


async def malformed_fuzz(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """`fuzz_events` malformed events (mobius/tools/chaos_fuzz.py) flooded in beside the steady load:
    each ends as a dead letter or an error reply, the workers stay up and their memory bounded."""
    prefix = f"fuzz-{rig.tag}"
    # Drawn on the loop's thread: Hypothesis objects to other threads moving `random` meanwhile.
    events = malformed_events(options.fuzz_events, client.reply_topic, prefix)
    owed = {e.request_id: client.expect(e.request_id) for e in events if e.request_id}
    placed: dict[str, FuzzEvent] = {}  # topic[partition]@offset -> the event written there
    rss_before = rig.workers_rss_mb()

    async def flood(load: Load) -> None:
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            sources = await asyncio.gather(*(client.publish_raw(e.value) for e in chunk))
            placed.update(zip(sources, chunk, strict=True))

    load = await rig.steady_load(client, "malformed_fuzz", options.queries, options.rate, during=flood)
    replies = await _owed_replies(client, owed)
    must_dead_letter = {s for s, e in placed.items() if e.kind in DEAD_LETTERED_KINDS}
    dead = await rig.dead_letter_sources(must_dead_letter, timeout_s=120.0)
    unaccounted = [e.kind for s, e in placed.items() if s not in dead and e.request_id not in replies]
    return await _counted(rig, load) | {
        "fuzz_events": len(events),
        "kinds": {
            kind: sum(1 for e in events if e.kind == kind) for kind in sorted({e.kind for e in events})
        },
        "dead_lettered": len(dead),
        "error_replies": sum(1 for r in replies.values() if r.status == "error"),
        "answered_ok_wrongly": sum(1 for r in replies.values() if r.status == "ok"),
        "unaccounted": len(unaccounted),
        "unaccounted_kinds": sorted(set(unaccounted)),
        "workers_alive": len(rig.live_workers()),
        "worker_rss_mb_before": rss_before,
        "worker_rss_mb_after": rig.workers_rss_mb(),
        "queries_committed_after_s": await _drained(rig),
    }


def _outcome(reply: ReplyEvent | None) -> str:
    return f"reply {reply.status}/{reply.error_code or reply.model_group}" if reply else "no reply"


def _raw_query(request_id: str, reply_to: str, **changes: object) -> bytes:
    """A query's Avro bytes with fields set past the checks QueryEvent would make."""
    record = QueryEvent(
        request_id="placeholder",
        created_at=now_utc(),
        user_id="chaos-oversized",
        tier="pro",
        messages=(ChatMessage(role="user", content="hello"),),
        reply_to="placeholder",
    ).model_dump()
    return QUERY_CODEC.encode(record | {"request_id": request_id, "reply_to": reply_to} | changes)


def _latency_split(load: Load, ids: list[str]) -> dict[str, float]:
    """p50 and p99 (ms) of each part of the queries' latency: to the worker (the Kafka hop, waiting
    to be read and admitted), in the worker, back to the client (the reply's hop)."""
    parts: dict[str, list[float]] = {"to_worker": [], "in_worker": [], "reply_hop": [], "client": []}
    for i in ids:
        reply = load.replies[i]
        parts["to_worker"].append(reply.queue_wait_ms)
        parts["in_worker"].append(reply.total_latency_ms - reply.queue_wait_ms)
        parts["reply_hop"].append(load.latency_ms[i] - reply.total_latency_ms)
        parts["client"].append(load.latency_ms[i])
    return {
        f"{name}_{stat}_ms": round(percentile(values, q), 1)
        for name, values in parts.items()
        if values
        for stat, q in (("p50", 50), ("p99", 99))
    }


async def oversized_input(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """A 5 MB prompt among small queries (they must not stall), then identifiers and bodies at and
    past every size limit: each dead-lettered or answered, and the partitions keep committing."""
    big: dict[str, Any] = {}

    async def five_megabytes(load: Load) -> None:
        await asyncio.sleep(options.fault_after_s)
        prompt = "the quick brown fox jumps over the lazy dog " * 120_000  # ~5.3 MB
        big["sent"] = time.perf_counter()
        big["reply"] = await client.ask(
            [{"role": "user", "content": prompt}], user_id="chaos-big", tier="enterprise", timeout=120
        )
        big["answered"] = time.perf_counter()

    count = int(options.rate * (options.fault_after_s + 10))
    load = await rig.steady_load(client, "oversized_input", count, options.rate, during=five_megabytes)
    # Small queries sent while the big one was on its way, against those sent well before it
    # (after the load's first second, which pays for cold connections).
    beside = load.sent_between(big["sent"] - 0.5, big["answered"] + 0.5) if big else []
    before = load.sent_between(load.started + 1.0, big["sent"] - 0.5) if big else []
    after = load.sent_between(big["answered"] + 0.5, float("inf")) if big else []
    limit = rig.settings.kafka_max_message_bytes
    ids = {name: f"oversized-{name}-{rig.tag}" for name in ("user", "org", "topic", "body")}
    near_limit = [{"role": "user", "content": "x" * (limit - 65536)}]  # room for the envelope
    at_limit = "r" * MAX_IDENTIFIER
    # name -> (the event, the request id an error or ok reply is owed to, if any)
    edge: dict[str, tuple[bytes, str | None]] = {
        "request_id_at_limit": (_raw_query(at_limit, client.reply_topic), at_limit),
        "request_id_past_limit": (_raw_query("r" * (MAX_IDENTIFIER + 1), client.reply_topic), None),
        "request_id_10mb": (_raw_query("r" * 10_000_000, client.reply_topic), None),
        "user_id_1mb": (_raw_query(ids["user"], client.reply_topic, user_id="u" * 1_000_000), ids["user"]),
        "org_id_past_limit": (_raw_query(ids["org"], client.reply_topic, org_id="o" * 201), ids["org"]),
        "reply_to_past_limit": (_raw_query(ids["topic"], "t" * 250), None),
        "body_near_limit": (_raw_query(ids["body"], client.reply_topic, messages=near_limit), ids["body"]),
    }
    owed = {rid: client.expect(rid) for _, rid in edge.values() if rid is not None}
    placed = {name: await client.publish_raw(value) for name, (value, _) in edge.items()}
    try:
        await client.publish_raw(b"x" * (limit + 1024))
        past_limit_refused = False
    except Exception:  # noqa: BLE001 - the producer or broker refusing it is the behaviour wanted
        past_limit_refused = True
    replies = await _owed_replies(client, owed, timeout_s=60.0)
    invalid = {source for name, source in placed.items() if name != "request_id_at_limit"}
    dead = await rig.dead_letter_sources(invalid, timeout_s=60.0)
    outcome = {}
    for name, source in placed.items():
        owed_id = edge[name][1]
        seen = [
            "dead letter" if source in dead else "",
            _outcome(replies.get(owed_id)) if owed_id is not None else "",
        ]
        outcome[name] = ", ".join(w for w in seen if w)
    missing_replies = sorted(
        name for name, (_, rid) in edge.items() if rid is not None and rid not in replies
    )
    figures = await _counted(rig, load)
    return figures | {
        "big_prompt_reply": _outcome(big.get("reply")),
        "small_p99_ms_before_big": load.p99_ms(before),
        "small_p99_ms_beside_big": load.p99_ms(beside),
        "small_p99_ms_after_big": load.p99_ms(after),
        "small_queries_beside_big": len(beside),
        # Where a small query's time went, before and beside the big one: which part it stalls.
        "small_split_before_big": _latency_split(load, before),
        "small_split_beside_big": _latency_split(load, beside),
        "small_split_after_big": _latency_split(load, after),
        "edge_outcomes": outcome,
        "unaccounted": sum(1 for v in outcome.values() if not v),
        "replies_missing": missing_replies,
        "body_past_broker_limit_refused": past_limit_refused,
        "workers_alive": len(rig.live_workers()),
        "queries_committed_after_s": await _drained(rig),
    }


async def canary_secrets(rig: ChaosRig, client: MobiusClient, options: ChaosOptions) -> dict[str, Any]:
    """The workers ran every scenario with canary provider keys (and the configured passwords):
    none of them may appear in a log, a topic, ClickHouse or Redis."""
    canaries = [*rig.canaries.values(), *configured_secrets(rig.settings)]
    found: dict[str, list[str]] = {}
    written = await everything_written(rig.settings, [client.reply_topic])
    for where, text in written:
        hits = [c for c in canaries if c in text]
        if hits:
            found.setdefault(where, []).extend(hits)
    return {
        "lost": 0,
        "duplicated": 0,
        "canaries": len(canaries),
        "places_searched": len(written),
        "leaks": {where: len(hits) for where, hits in found.items()},
    }


SCENARIOS: dict[str, Scenario] = {
    "worker_kill": worker_kill,
    "broker_kill": broker_kill,
    "sink_kill": sink_kill,
    "redis_kill": redis_kill,
    "provider_down": provider_down,
    "malformed_fuzz": malformed_fuzz,
    "oversized_input": oversized_input,
    "canary_secrets": canary_secrets,  # last: it searches what every other scenario wrote
}
