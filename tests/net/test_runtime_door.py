"""The runtime is the node's one door into the engine (issue 14 item 3, decisions.md D34).

``BasslineNetwork(runtime=...)`` takes any object with the members of
:class:`bassline.runtime.Runtime`, not only a ``StorageBackedRuntime``: here, a runtime
without storage that keeps its engine private. A node that reached through its runtime for
the engine (``runtime.network``) would fail on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import anyio
import httpx
import pytest

from bassline.clock import Stamp
from bassline.content import ABSENT
from bassline.engine import ChangeStream, ContactState, Explanation, Network, PropagationResult
from bassline.engine.carried import Carried
from bassline.net import BasslineNetwork, NodeServer
from bassline.runtime import Runtime, RuntimeHealth, StorageBackedRuntime
from bassline.spec import Bassline
from bassline.storage import PoolStats, open_storage

from .conftest import FAST, calculator, converged, node, wait_until

pytestmark = pytest.mark.anyio


class PlainRuntime:
    """A runtime that stores nothing: an engine behind the members of ``Runtime``."""

    def __init__(self, spec: Bassline, node_id: str) -> None:
        self._engine = Network(spec, node_id=node_id)
        self.applied: list[tuple[str, Any, Stamp]] = []
        """Every stamped value a peer's delta brought, through :meth:`apply`."""

    @property
    def spec(self) -> Bassline:
        return self._engine.spec

    @property
    def recovered(self) -> int:
        return 0

    @property
    def queue_depth(self) -> int:
        return 0

    @property
    def failure_counts(self) -> Mapping[str, int]:
        return self._engine.failure_counts

    @property
    def run_groups(self) -> frozenset[str]:
        return self._engine.run_groups

    def group_owners(self) -> Mapping[str, str | None]:
        return {}

    def __contains__(self, contact_id: object) -> bool:
        return contact_id in self._engine

    def value(self, contact_id: str, default: Any = ABSENT) -> Any:
        return self._engine.value(contact_id, default)

    def stamped(self, contact_id: str) -> tuple[Any, Stamp]:
        return self._engine.value(contact_id), self._engine.stamp(contact_id)

    def contact(self, contact_id: str) -> ContactState:
        return self._engine.contact(contact_id)

    def values(self) -> dict[str, Any]:
        return self._engine.values()

    def state(self) -> Iterator[tuple[str, Any, Stamp]]:
        return self._engine.state()

    def add_listener(self, listener: Callable[[PropagationResult], None]) -> Callable[[], None]:
        return self._engine.add_listener(listener)

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        return self._engine.changes(max_buffer)

    def observe(self, stamp: Stamp) -> None:
        self._engine.clock.observe(stamp)

    def validate(self, contact_id: str, value: Any) -> None:
        self._engine.validate(contact_id, value)

    def explain(self, contact_id: str, depth: int | None = None) -> Explanation:
        return self._engine.explain(contact_id, depth)

    def carried_justification(self, contact_id: str) -> Carried | None:
        return self._engine.carried_justification(contact_id)

    async def update_contact(
        self, contact_id: str, content: Any, *, via: str = "python"
    ) -> PropagationResult:
        await anyio.lowlevel.checkpoint()
        return self._engine.update_contact(contact_id, content, via=via)

    async def update_many(
        self, items: Mapping[str, Any], *, via: str = "python"
    ) -> PropagationResult:
        await anyio.lowlevel.checkpoint()
        return self._engine.update_many(items, via=via)

    async def apply(self, items: Iterable[tuple[Any, ...]]) -> PropagationResult:
        await anyio.lowlevel.checkpoint()
        batch = list(items)
        self.applied += [(item[0], item[1], item[2]) for item in batch]
        return self._engine.apply(batch)

    def health(self) -> RuntimeHealth:
        return RuntimeHealth("ok")

    def prometheus(self) -> str:
        return ""

    def pool_stats(self) -> PoolStats | None:
        return None


def test_both_runtimes_conform_to_the_protocol() -> None:
    """``Runtime`` is runtime-checkable: it names every member a node uses, and no engine."""
    assert isinstance(PlainRuntime(calculator(), "p"), Runtime)
    assert isinstance(StorageBackedRuntime(calculator(), open_storage("memory://door")), Runtime)
    assert not isinstance(Network(calculator()), Runtime)  # the engine's writes are not async
    assert not {"network", "engine", "clock"} & set(dir(Runtime))


async def test_a_node_runs_on_a_runtime_that_is_not_storage_backed() -> None:
    spec = calculator()
    plain = PlainRuntime(spec, "plain")
    async with (
        BasslineNetwork("plain", spec, ["adder"], runtime=plain, settings=FAST) as a,
        NodeServer(a, "127.0.0.1", 0) as server,
    ):
        assert server.url is not None
        async with node("stored", spec, [], peers=[server.url.ws]) as (b, _):
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            async with a.changes() as stream:
                await b.update_contact("input-b", 2)  # reaches the plain node through apply
                result = await anext(stream)
            assert "input-b" in {c.contact for c in result.changes}
            assert "input-b" in {item[0] for item in plain.applied}
            await a.update_contact("input-a", 40)  # the plain node's adder computes
            await wait_until(lambda: b.value("result", None) == 42, what="the sum on b")
            await wait_until(lambda: converged([a, b]), what="convergence")
            assert a.value("result") == 42 and a.contact("result").value == 42
            assert a.values() == b.values()
            status = a.status()
            assert status["contacts"] == {"total": 6, "with_content": len(a.values())}
            assert status["storage"]["breaker"] == "closed" and status["storage"]["pool"] is None
            assert status["gadget_failures"] == {}
            assert "bassline_gadget_failures_total" in a.prometheus()
            async with httpx.AsyncClient(base_url=server.url.http) as http:
                listing = (await http.get("/api/contacts")).json()
                assert listing["digest"] == b.digest()
                assert {c["id"] for c in listing["contacts"]} == set(a.values())
                # explain goes through the runtime's door too, on the node and over HTTP
                why = a.explain("result")
                premises = {
                    (p.contact, p.value, p.via, p.local, p.stamp.node) for p in why.premises()
                }
                # the 2 came by gossip with its justification: written on "stored" through
                # its Python API, applied here (not local)
                assert premises == {
                    ("input-a", 40, "python", True, "plain"),
                    ("input-b", 2, "python", False, "stored"),
                }
                answer = await http.get("/api/contacts/result/explain")
                assert answer.status_code == 200 and answer.json() == why.to_json()
