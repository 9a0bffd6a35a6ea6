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
import inspect
import os
import re
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
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


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 90) -> None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                met = condition()
                if await met if inspect.isawaitable(met) else met:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f} s: {what}") from None


@dataclass
class Records:
    """Completion records produced in phases of PART, and whether they have all landed."""

    settings: MobiusSettings
    client: Client
    produced: int = 0

    async def produce_phase(self) -> None:
        start, self.produced = self.produced, self.produced + PART
        await produce(self.settings, [record(i, cost=1000 + i) for i in range(start, self.produced)])

    async def landed(self) -> bool:
        return (await asyncio.to_thread(rows, self.client))[1] >= self.produced


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
    every = set(range(PARTITIONS))
    client = connect(front.dsn)
    records = Records(settings, client)
    try:
        a.start()  # it logs its partitions after its migrations, once in the group
        await eventually(lambda: owned(a) == every, "sink A owns every partition")
        await records.produce_phase()
        await eventually(records.landed, "sink A wrote the first records")

        b.start()  # a rebalance: the two share the partitions
        await eventually(
            lambda: bool(owned(a) and owned(b)) and not owned(a) & owned(b) and owned(a) | owned(b) == every,
            "both sinks own partitions, each its own",
        )
        await records.produce_phase()
        await eventually(records.landed, "both sinks wrote")

        front.hold_next_insert()  # whichever sink inserts next stalls in the middle of it
        await records.produce_phase()
        await eventually(lambda: bool(front.hold_status()["waiting"]), "an insert is held")
        stalled = sender_of(front.hold_status()["waiting"][0], [a, b])
        survivor = b if stalled is a else a
        stalled_pid = stalled.process.pid()
        assert stalled_pid is not None
        os.kill(stalled_pid, signal.SIGSTOP)  # no heartbeats: its session lapses, the group moves on
        # Records keep coming meanwhile, so the survivor, reading on from the committed offsets,
        # would batch more than the held batch holds: only redoing the recorded range gives the
        # same token.
        await records.produce_phase()
        await eventually(lambda: owned(survivor) == every, "the other sink owns every partition")
        # Including the stalled sink's batch, which the survivor redid from the intent in Kafka.
        await eventually(records.landed, "the survivor wrote every record so far")

        front.release()  # the stalled insert runs now, after the survivor wrote the same batch
        await eventually(lambda: int(front.hold_status()["finished"]) == 1, "the held insert ran")
        stalled.process.kill()  # kill -9, still stopped: it never commits its batch

        await records.produce_phase()  # keep producing
        await eventually(records.landed, "the survivor wrote the last records")
        await eventually(lambda: all_committed(settings), "every offset committed")
        assert rows(client) == (PHASES * PART,) * 3  # count, distinct request ids, the rollup's sum
        assert client.command("SELECT count() FROM completion_ids") == PHASES * PART
        costs = client.query("SELECT sum(cost_nano_usd) FROM completions").result_rows[0][0]
        assert costs == sum(1000 + i for i in range(PHASES * PART))
    finally:
        for sink in (a, b):
            pid = sink.process.pid()
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
            sink.stop()
        client.close()
