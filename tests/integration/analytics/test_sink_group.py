"""Sinks in a consumer group, writing over ClickHouse's HTTP interface.

The server is the embedded engine behind infra/clickhouse_http (no ClickHouse server package of a
usable version installs here). Two `mobius sink` processes share the partitions; one is stalled in
the middle of an insert (its request held by the front, then the process stopped) until the other
owns its partitions and has redone its batch, then its insert goes through and it is killed -9.
Each request must still be one row: the batch's token is its partition and offset range, so the
late insert carries the token of the one already written and ClickHouse drops it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psutil
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from clickhouse_connect.driver.client import Client

from analytics.clickhouse import connect
from infra.clickhouse_http.launcher import ClickHouseHttp
from infra.ports import pick_free_port
from mobius.fleet import SinkProcess
from mobius.settings import MobiusSettings
from streams.kafka_options import client_options
from streams.topics import ensure_topics
from tests.support.analytics import produce, record
from tests.support.pipeline import isolated_settings

PARTITIONS = 6
PHASES = 5
PART = 300  # records produced in each phase
_OWNS = re.compile(r"sink owns partitions \[([\d, ]*)\]")


@pytest.fixture
def front(tmp_path: Path) -> Iterator[ClickHouseHttp]:
    server = ClickHouseHttp(pick_free_port(), tmp_path / "clickhouse")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 90) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f} s: {what}") from None


def owned(sink: SinkProcess) -> set[int]:
    """The partitions the sink last said it owns (it logs every assignment)."""
    try:
        found = _OWNS.findall(sink.process.log_file.read_text(errors="replace"))
    except FileNotFoundError:
        return set()
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


def rows(client: Client) -> tuple[int, int, int]:
    count, unique = client.query("SELECT count(), uniqExact(request_id) FROM completions").result_rows[0]
    rollup = client.query("SELECT sum(requests) FROM completions_by_minute").result_rows[0][0]
    return int(count), int(unique), int(rollup)


def sender_of(port: int, sinks: list[SinkProcess]) -> SinkProcess:
    """The sink process whose connection has this local port."""
    for sink in sinks:
        pid = sink.process.pid()
        if pid is not None and any(
            c.laddr and c.laddr.port == port for c in psutil.Process(pid).net_connections()
        ):
            return sink
    raise AssertionError(f"no sink holds the connection from port {port}")


async def all_committed(settings: MobiusSettings) -> bool:
    """Every record of the topic is behind the group's committed offsets (no batch is left open)."""
    options = client_options(settings.kafka)
    tps = [TopicPartition(settings.topics.completions, p) for p in range(PARTITIONS)]
    admin, consumer = AIOKafkaAdminClient(**options), AIOKafkaConsumer(**options)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.sink_group, partitions=tps)
        ends = await consumer.end_offsets(tps)
        return all(committed.get(tp) is not None and committed[tp].offset == ends[tp] for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


async def test_two_sinks_share_the_partitions_and_a_stalled_then_killed_one_adds_no_duplicate(
    stack_settings: MobiusSettings, front: ClickHouseHttp, tmp_path: Path
) -> None:
    settings = isolated_settings(
        stack_settings,
        clickhouse_dsn=front.dsn,
        kafka_partitions=PARTITIONS,
        sink_group=f"sinks-{uuid.uuid4().hex[:8]}",
        sink_session_timeout_s=6.0,
    )
    await ensure_topics(settings.kafka, settings.topics.all())
    a, b = (SinkProcess(settings.model_copy(update={"state_dir": tmp_path / name})) for name in "ab")
    client = connect(front.dsn)
    phases = iter(range(0, PHASES * PART, PART))

    async def produce_phase() -> int:
        start = next(phases)
        await produce(settings, [record(i, cost=1000 + i) for i in range(start, start + PART)])
        return start + PART

    async def landed(n: int) -> bool:
        return (await asyncio.to_thread(rows, client))[1] >= n

    try:
        a.start()

        async def a_owns_all() -> bool:  # it logs that after its migrations, once in the group
            return owned(a) == set(range(PARTITIONS))

        await eventually(a_owns_all, "sink A owns every partition")
        expected = await produce_phase()
        await eventually(lambda: landed(expected), "sink A wrote the first records")

        b.start()  # a rebalance: the two share the partitions

        async def shared() -> bool:
            mine, theirs = owned(a), owned(b)
            return bool(mine and theirs) and not mine & theirs and mine | theirs == set(range(PARTITIONS))

        await eventually(shared, "both sinks own partitions, each its own")
        expected = await produce_phase()
        await eventually(lambda: landed(expected), "both sinks wrote")

        front.hold_next_insert()  # whichever sink inserts next stalls in the middle of it
        expected = await produce_phase()

        async def held() -> bool:
            return bool(front.hold_status()["waiting"])

        await eventually(held, "an insert is held")
        stalled = sender_of(front.hold_status()["waiting"][0], [a, b])
        survivor = b if stalled is a else a
        stalled_pid = stalled.process.pid()
        assert stalled_pid is not None
        os.kill(stalled_pid, signal.SIGSTOP)  # no heartbeats: its session lapses, the group moves on
        # Records keep coming meanwhile, so the survivor, reading on from the committed offsets,
        # would batch more than the held batch holds: only redoing the recorded range gives the
        # same token.
        expected = await produce_phase()

        async def survivor_owns_all() -> bool:
            return owned(survivor) == set(range(PARTITIONS))

        await eventually(survivor_owns_all, "the other sink owns every partition")
        # Including the stalled sink's batch, which the survivor redid from the intent in Kafka.
        await eventually(lambda: landed(expected), "the survivor wrote every record so far")

        front.release()  # the stalled insert runs now, after the survivor wrote the same batch

        async def late_insert_done() -> bool:
            return int(front.hold_status()["finished"]) == 1

        await eventually(late_insert_done, "the held insert ran")
        stalled.process.kill()  # kill -9, still stopped: it never commits its batch

        expected = await produce_phase()  # keep producing
        await eventually(lambda: landed(expected), "the survivor wrote the last records")
        await eventually(lambda: all_committed(settings), "every offset committed")
        count, unique, rollup = rows(client)
        assert (count, unique, rollup) == (PHASES * PART,) * 3
        costs = client.query("SELECT sum(cost_nano_usd) FROM completions").result_rows[0][0]
        assert costs == sum(1000 + i for i in range(PHASES * PART))
    finally:
        for sink in (a, b):
            pid = sink.process.pid()
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
            sink.stop()
        client.close()
