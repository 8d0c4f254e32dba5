"""Benchmark: what two linked nodes on one PostgreSQL store gossip of the feed's values.

Two nodes (``a``, ``b``), each with its own storage object on one schema, are linked by
gossip; a third runtime (no node) stores ``--contacts`` values in ``--rounds`` batches;
both nodes get every value through the change feed. Measured, from the nodes' gossip
metrics between "idle link" before the writes and "every change pushed" after: delta
items, delta frames and bytes sent by both nodes. Run once with the default
(``gossip_feed_values=False``: a node does not send a peer on the same store what the
feed brought it) and once, in the same run, with ``gossip_feed_values=True`` (what nodes
did before), the baseline; prints both and their ratio.

Run: ``.venv/bin/python bench/bench_feed_gossip.py [--contacts 1000] [--rounds 10]``
against ``BASSLINE_BENCH_POSTGRES_URL`` (default: ``BASSLINE_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``), in a schema of its own, dropped at the
end.
"""

from __future__ import annotations

import argparse
import os
import uuid
from contextlib import AsyncExitStack
from typing import Any

import anyio
import attrs
import psycopg
from bassline_storage_postgres import migrate
from psycopg import sql
from sqlalchemy.engine import make_url

from bassline.net import BasslineNetwork, GossipSettings, NodeServer
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import open_storage

SETTINGS = GossipSettings(heartbeat_interval=1.0, heartbeat_timeout=60.0, discover=False)


def _url() -> str:
    return os.environ.get(
        "BASSLINE_BENCH_POSTGRES_URL",
        os.environ.get("BASSLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )


def _spec(n: int) -> Bassline:
    return parse_spec({"id": "feed-gossip", "contacts": [{"id": f"c{i}"} for i in range(n)]})


async def _until(check: Any, what: str) -> None:
    with anyio.fail_after(120, shield=False):
        while not check():  # noqa: ASYNC110 - polling with a deadline
            await anyio.sleep(0.01)


def _idle(nets: list[BasslineNetwork]) -> bool:
    return all(p.behind == 0 and p.lagging == 0 for n in nets for p in n.peers())


async def _measure(
    url: str, spec: Bassline, rounds: int, settings: GossipSettings
) -> dict[str, int]:
    n = len(spec.contacts)
    async with AsyncExitStack() as stack:
        nets: list[BasslineNetwork] = []
        peers: list[str] = []
        for name in ("a", "b"):
            storage = await stack.enter_async_context(open_storage(url))
            net = await stack.enter_async_context(
                BasslineNetwork(name, spec, storage=storage, peers=peers, settings=settings)
            )
            server = await stack.enter_async_context(NodeServer(net, "127.0.0.1", 0))
            assert server.url is not None
            peers = [server.url.ws]
            nets.append(net)
        await _until(lambda: all(len(x.peers()) == 1 for x in nets) and _idle(nets), "link")
        before = [(x.metrics.items_out, x.metrics.deltas_out, x.metrics.bytes_out) for x in nets]
        async with open_storage(url) as storage:
            async with StorageBackedRuntime(spec, storage, node_id="writer") as writer:
                for r in range(rounds):
                    await writer.update_many({f"c{i}": [r, i] for i in range(n)})
        last = [rounds - 1, n - 1]
        await _until(lambda: all(x.value(f"c{n - 1}") == last for x in nets), "values")
        await _until(lambda: _idle(nets), "every change pushed")
        after = [(x.metrics.items_out, x.metrics.deltas_out, x.metrics.bytes_out) for x in nets]
    keys = ("items", "deltas", "bytes")
    return {
        k: sum(a[i] - b[i] for a, b in zip(after, before, strict=True)) for i, k in enumerate(keys)
    }


async def _main(args: argparse.Namespace) -> None:
    base = _url()
    schema = f"bench_fg_{uuid.uuid4().hex[:8]}"
    url = make_url(base).update_query_dict({"schema": schema}).render_as_string(False)
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        migrate(url)
        spec = _spec(args.contacts)
        skip = await _measure(url, spec, args.rounds, SETTINGS)
        send = await _measure(
            url, spec, args.rounds, attrs.evolve(SETTINGS, gossip_feed_values=True)
        )
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    print(f"{args.contacts} contacts x {args.rounds} rounds written by a third runtime")
    print(f"{'':32} {'items':>8} {'deltas':>8} {'bytes':>10}")
    for label, m in (
        ("gossip_feed_values=True (base)", send),
        ("default (skip feed values)", skip),
    ):
        print(f"{label:32} {m['items']:>8} {m['deltas']:>8} {m['bytes']:>10}")
    ratio = skip["bytes"] / send["bytes"] if send["bytes"] else float("nan")
    print(f"bytes ratio default/base: {ratio:.3f}")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    anyio.run(_main, parser.parse_args())


if __name__ == "__main__":
    main()
