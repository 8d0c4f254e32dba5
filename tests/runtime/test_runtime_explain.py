"""``explain`` through the runtime's door, and how writes through it are labelled (issue 16).

The runtime answers ``explain`` from its engine (D34: the node and the CLI never reach the
engine), and every write verb says how the write came in (``via``), which the explanation
reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bassline import UnknownContact
from bassline.engine import Kind
from bassline.runtime import Runtime, StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage

EXAMPLES = Path(__file__).parents[2] / "examples"
CALCULATOR = EXAMPLES / "calculator.json"
pytestmark = pytest.mark.anyio


def premises(runtime: StorageBackedRuntime, contact: str) -> set[tuple[str, object, str]]:
    return {(p.contact, p.value, p.via) for p in runtime.explain(contact).premises()}


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_the_runtime_explains_writes_by_how_they_came_in(
    memory_url: str, durability: str
) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(
            CALCULATOR, storage, node_id="n1", durability=durability
        ) as runtime:
            assert isinstance(runtime, Runtime)
            assert premises(runtime, "result") == {("input-a", 10, "spec"), ("input-b", 20, "spec")}
            await runtime.update_contact("input-a", 5)
            await runtime.update_contact("input-b", 7, via="cli")
            assert premises(runtime, "result") == {("input-a", 5, "python"), ("input-b", 7, "cli")}
            await runtime.update_many({"input-a": 1, "input-b": 2}, via="http")
            why = runtime.explain("result")
            assert why.value == 3 and why.complete
            assert {(p.contact, p.value, p.via, p.stamp.node) for p in why.premises()} == {
                ("input-a", 1, "http", "n1"),
                ("input-b", 2, "http", "n1"),
            }
            # the same tree the engine gives, and its JSON form
            assert why.to_json() == runtime.network.explain("result").to_json()
            await runtime.update_many({"input-a": 4})
            assert ("input-a", 4, "python") in premises(runtime, "result")
            await runtime.flush()


async def test_depth_limits_the_tree_and_bad_arguments_are_refused(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(CALCULATOR, storage) as runtime:
            shallow = runtime.explain("result", depth=1)
            assert shallow.justification is not None
            assert shallow.justification.kind is Kind.WIRE
            assert not shallow.complete and shallow.premises() == ()
            assert runtime.explain("result", 2).justification is not None
            for bad in (0, -1, 1.5, "2", True):
                with pytest.raises(ValueError, match="depth must be a whole number"):
                    runtime.explain("result", bad)  # type: ignore[arg-type]
            with pytest.raises(UnknownContact, match="did you mean 'result'"):
                runtime.explain("resutl")
            empty = runtime.explain("add-sum")
            assert empty.present  # computed from the spec's contents
            before = runtime.network.stamp("input-a")
            for via in ("", None, 5):
                with pytest.raises(ValueError, match="via must be a non-empty string"):
                    await runtime.update_contact("input-a", 99, via=via)  # type: ignore[arg-type]
                with pytest.raises(ValueError, match="via must be a non-empty string"):
                    await runtime.update_many({"input-a": 99}, via=via)  # type: ignore[arg-type]
            assert runtime.value("input-a") == 10 and runtime.network.stamp("input-a") == before
            assert runtime.queue_depth == 0


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_a_write_that_changes_one_contact_is_explained_the_same_after_a_restart(
    memory_url: str, durability: str
) -> None:
    """A write that changes only its own contact (the runtime's single-contact path) is
    stored with its justification: a runtime opened later explains it as written, with
    how it came in, not as a value found in storage."""
    spec = parse_spec({"id": "lone", "contacts": [{"id": "a"}, {"id": "b"}]})
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(spec, storage, node_id="n1", durability=durability) as rt:
            await rt.update_contact("a", 5, via="cli")
            before = rt.explain("a").to_json()
            assert premises(rt, "a") == {("a", 5, "cli")}
        async with StorageBackedRuntime(spec, storage, node_id="n1") as reopened:
            assert reopened.explain("a").to_json() == before
            assert premises(reopened, "a") == {("a", 5, "cli")}
