"""The verbs and reads of every layer are typed with ``Content``, so mypy checks callers.

One mypy run over two callers: ``misuse.py`` must be flagged on exactly the lines marked
``# BAD`` (a read used as if it were surely present or a number, a write of something that
is not content), ``careful.py`` (narrowing with ``is ABSENT``, passing content) not at all.
"""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api as mypy_api

MISUSE = """\
from bassline import ABSENT
from bassline.clock import Stamp
from bassline.engine import Network, PropagationResult
from bassline.net import AsyncNodeClient, BasslineNetwork, NodeClient
from bassline.runtime import Runtime, StorageBackedRuntime


def engine(net: Network, stamp: Stamp) -> None:
    net.value("a") + 1  # BAD: it may be ABSENT, and content is not surely a number
    net.value("a", 0) + 1  # BAD: the default is an int, the content need not be
    net.contact("a").value.upper()  # BAD: the state's value is content or ABSENT
    net.update_contact("a", {1, 2})  # BAD: a set is not content
    net.update_contact("a", ABSENT)  # BAD: ABSENT is not content either
    net.update_many({"a": object()})  # BAD
    net.apply([("a", object(), stamp)])  # BAD
    net.submit("a", 1j)  # BAD: a complex number is not content


def results(result: PropagationResult) -> None:
    result.changed["a"] + 1  # BAD: a change's value is content, of any kind
    result.changes[0].value + 1  # BAD
    result.contradictions[0].current + 1  # BAD


async def runtimes(runtime: Runtime, storage_backed: StorageBackedRuntime) -> None:
    runtime.value("a") + 1  # BAD
    runtime.stamped("a")[0] + 1  # BAD
    await runtime.update_contact("a", object())  # BAD
    await runtime.update_many({"a": {1}})  # BAD
    storage_backed.value("a") + 1  # BAD
    await storage_backed.update_contact("a", object())  # BAD


async def node(network: BasslineNetwork) -> None:
    network.value("a") + 1  # BAD
    network.values()["a"] + 1  # BAD
    await network.update_contact("a", object())  # BAD


async def clients(client: NodeClient, aclient: AsyncNodeClient) -> None:
    client.contact("a").value + 1  # BAD
    client.write("a", object())  # BAD
    client.write_many({"a": {1}})  # BAD
    client.contents().values["a"] + 1  # BAD
    await aclient.write("a", object())  # BAD
    (await aclient.contact("a")).value + 1  # BAD
"""

CAREFUL = """\
from bassline import ABSENT, Content
from bassline.clock import Stamp
from bassline.engine import Network
from bassline.lattices import Interval
from bassline.net import AsyncNodeClient, BasslineNetwork, NodeClient
from bassline.runtime import Runtime, StorageBackedRuntime


def plus_one(value: Content) -> int:
    return value + 1 if isinstance(value, int) else 0


def engine(net: Network, stamp: Stamp) -> int:
    value = net.value("a")
    if value is ABSENT:
        return 0
    kept: Content = value
    defaulted: Content = net.value("a", None)
    state = net.contact("a")
    if state.value is not ABSENT:
        kept = state.value
    net.update_contact("a", {"x": [1, 2.5, None, "y"]})
    net.update_many({"a": 1, "b": Interval(0, 1)})
    net.apply([("a", kept, stamp)])
    for _contact, content, _stamp in net.state():
        kept = content
    net.validate("a", object())  # checking anything is what validate is for
    return plus_one(value) + plus_one(defaulted) + plus_one(kept)


def is_a_runtime(storage_backed: StorageBackedRuntime) -> Runtime:
    return storage_backed


async def runtime(run: Runtime) -> Content:
    value, _stamp = run.stamped("a")
    await run.update_contact("a", 1)
    await run.apply([("a", 2, _stamp)])
    return None if value is ABSENT else value


async def node(network: BasslineNetwork) -> Content:
    await network.update_many({"a": [1, 2]})
    value = network.value("a")
    return None if value is ABSENT else value


async def clients(client: NodeClient, aclient: AsyncNodeClient) -> Content:
    client.write("a", 1)
    await aclient.write_many({"a": "text"})
    value = (await aclient.contact("a")).value
    if value is ABSENT:
        value = client.contact("b").value
    return None if value is ABSENT else value
"""


def _flagged(out: str, name: str) -> set[int]:
    pattern = rf"^[^:\n]*{re.escape(name)}:(\d+): error"
    return {int(n) for n in re.findall(pattern, out, re.MULTILINE)}


def _bad_lines(source: str) -> set[int]:
    return {i for i, line in enumerate(source.splitlines(), 1) if "# BAD" in line}


def test_mypy_refuses_misused_values_and_accepts_narrowed_ones(tmp_path: Path) -> None:
    misuse, careful = tmp_path / "misuse.py", tmp_path / "careful.py"
    misuse.write_text(MISUSE, encoding="utf-8")
    careful.write_text(CAREFUL, encoding="utf-8")
    out, err, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), str(misuse), str(careful)]
    )
    assert err == ""
    assert _flagged(out, "misuse.py") == _bad_lines(MISUSE), out
    assert _flagged(out, "careful.py") == set(), out
    assert status == 1
