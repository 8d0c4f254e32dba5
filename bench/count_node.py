"""Count what a node's event loop, collector and kernel do in the ten-node benchmark.

A ``BENCH_PROFILE_WRAPPER`` for ``bench/bench_network.py`` (run as
``python bench/count_node.py OUT start SPEC ...``): from SIGUSR1 (sent as the writes
start) until SIGTERM (the bench is done) it counts the asyncio loop's iterations and the
callbacks (handles) they run, timers scheduled, selector waits (their wall and process
time), tasks created, garbage collections per generation with their process time, the
process's CPU and its context switches (``/proc/self/status``), the process time spent
inside the functions of :data:`TIMED` (inclusive; an async function's only while it
runs) and the types of the objects the young collections kept, and writes them as JSON
to ``OUT`` (``.json`` replacing ``.prof``). Counting costs CPU of its own (a Python
wrapper per loop iteration, callback and timed call), so compare counts and shares, not
this run's total. Experiments: ``COUNT_NODE_YOUNG=N`` sets the youngest generation's
threshold before the node starts, ``COUNT_NODE_REST=S`` the digest keeper's rest::

    BENCH_PROFILE_DIR=/tmp/c BENCH_PROFILE_WRAPPER=bench/count_node.py \
        python bench/bench_network.py --only procs-10-distinct
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.events
import asyncio.unix_events
import atexit
import gc
import json
import os
import runpy
import selectors
import signal
import sys
import time
from collections import Counter
from types import FrameType
from typing import Any


def _switches() -> tuple[int, int]:
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            if "ctxt_switches" in line:
                key, value = line.split(":")
                found[key.strip()] = int(value)
    return found["voluntary_ctxt_switches"], found["nonvoluntary_ctxt_switches"]


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user, t.system


class _Timed:
    """Awaits ``coro``, adding the process time of each of its steps to ``spent[key]``
    (time while it is suspended is other tasks', not counted)."""

    def __init__(self, coro: Any, key: str, spent: Counter[str]) -> None:
        self.coro, self.key, self.spent = coro, key, spent

    def __await__(self) -> Any:
        coro, value, error = self.coro, None, None
        while True:
            began = time.process_time()
            try:
                step = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                self.spent[self.key] += time.process_time() - began
                return stop.value
            except BaseException:
                self.spent[self.key] += time.process_time() - began
                raise
            self.spent[self.key] += time.process_time() - began
            try:
                value, error = (yield step), None
            except BaseException as exc:  # thrown in (a cancellation): passed on
                value, error = None, exc


TIMED = [
    ("bassline.net.content_digest", "ContentDigest.fold"),
    ("bassline.net.content_digest", "_columns"),
    ("bassline.net.replicator", "Replicator.build_delta"),
    ("bassline.net.replicator", "Replicator.apply_delta"),
    ("bassline.net.peer", "parse_frame"),
    ("bassline.net.membership", "Membership.handle_gossip"),
    ("bassline.net.transport", "_WSProtoTransport.receive"),
    ("bassline.net.transport", "_WSProtoTransport.send"),
    ("bassline.net.node", "BasslineNetwork.update_many"),
    ("anyio._backends._asyncio", "SocketStream.receive"),
    ("anyio._backends._asyncio", "SocketStream.send"),
    ("wsproto", "WSConnection.receive_data"),
    ("wsproto", "WSConnection.send"),
    ("bassline.net.transport", "_WSProtoTransport._drain_events"),
]
"""(module, name) of functions whose own process time (inclusive) is summed."""


def _time_functions(spent: Counter[str], calls: Counter[str]) -> None:
    import functools
    import importlib
    import inspect

    for module_name, name in TIMED:
        module = importlib.import_module(module_name)
        owner: Any = module
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part)
        if not hasattr(owner, attr):
            continue
        original = getattr(owner, attr)
        if inspect.iscoroutinefunction(original):

            def wrapped(*a: Any, _f: Any = original, _k: str = name, **kw: Any) -> Any:
                calls[_k] += 1
                return _Timed(_f(*a, **kw), _k, spent)

        else:

            def wrapped(*a: Any, _f: Any = original, _k: str = name, **kw: Any) -> Any:
                calls[_k] += 1
                began = time.process_time()
                try:
                    return _f(*a, **kw)
                finally:
                    spent[_k] += time.process_time() - began

        setattr(owner, attr, functools.wraps(original)(wrapped))


def main() -> None:
    rest = os.environ.get("COUNT_NODE_REST")
    if rest is not None:  # the digest keeper's rest (an experiment)
        import bassline.net.digest_keeper as keeper

        keeper.DigestKeeper.__init__.__defaults__ = (float(rest), keeper.CHUNK)
    young = int(os.environ.get("COUNT_NODE_YOUNG", "0"))
    if young:  # settle_heap keeps the larger threshold
        gc.set_threshold(young, *gc.get_threshold()[1:])
    out = sys.argv[1].replace(".prof", ".json")
    sys.argv = ["bassline", *sys.argv[2:]]
    counts: Counter[str] = Counter()
    gc_time: Counter[str] = Counter()
    on = [False]
    start: dict[str, Any] = {}
    gc_started = [0.0, 0.0]
    callbacks: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()

    run_once = asyncio.base_events.BaseEventLoop._run_once

    def counted_run_once(self: Any) -> None:
        if on[0]:
            counts["loop_iterations"] += 1
            counts["ready_at_start"] += len(self._ready)
        run_once(self)

    asyncio.base_events.BaseEventLoop._run_once = counted_run_once  # type: ignore[method-assign]

    handle_run = asyncio.events.Handle._run

    def counted_handle_run(self: Any) -> None:
        if on[0]:
            counts["handles_run"] += 1
            cb = getattr(self, "_callback", None)
            owner = getattr(cb, "__self__", None)
            if owner is not None and isinstance(owner, asyncio.Task):
                coro = owner.get_coro()
                name = getattr(coro, "__qualname__", type(coro).__name__)
                callbacks[f"task {name}"] += 1
            else:
                callbacks[getattr(cb, "__qualname__", repr(cb))[:80]] += 1
        handle_run(self)

    asyncio.events.Handle._run = counted_handle_run  # type: ignore[method-assign]

    call_at = asyncio.base_events.BaseEventLoop.call_at

    def counted_call_at(self: Any, when: float, callback: Any, *args: Any, **kw: Any) -> Any:
        if on[0]:
            counts["timers"] += 1
            now = self.time()
            if when - now <= 0:
                counts["timers_due_now"] += 1
            callbacks["timer " + getattr(callback, "__qualname__", repr(callback))[:60]] += 1
        return call_at(self, when, callback, *args, **kw)

    asyncio.base_events.BaseEventLoop.call_at = counted_call_at  # type: ignore[method-assign]

    select = selectors.EpollSelector.select

    def counted_select(self: Any, timeout: float | None = None) -> Any:
        if not on[0]:
            return select(self, timeout)
        a, c = time.perf_counter(), time.process_time()
        events = select(self, timeout)
        counts["selects"] += 1
        if timeout == 0:
            counts["selects_nowait"] += 1
        counts["select_events"] += len(events)
        gc_time["select_wall"] += time.perf_counter() - a
        gc_time["select_cpu"] += time.process_time() - c
        return events

    selectors.EpollSelector.select = counted_select  # type: ignore[method-assign]

    create_task = asyncio.base_events.BaseEventLoop.create_task

    def counted_create_task(self: Any, coro: Any, **kw: Any) -> Any:
        if on[0]:
            counts["tasks_created"] += 1
            callbacks["created " + getattr(coro, "__qualname__", "?")] += 1
        return create_task(self, coro, **kw)

    asyncio.base_events.BaseEventLoop.create_task = counted_create_task  # type: ignore[method-assign]

    def gc_callback(phase: str, info: dict[str, Any]) -> None:
        if not on[0]:
            return
        if phase == "start":
            gc_started[0], gc_started[1] = time.perf_counter(), time.process_time()
        else:
            g = info["generation"]
            counts[f"gc_gen{g}"] += 1
            counts[f"gc_gen{g}_collected"] += info["collected"]
            gc_time[f"gc_gen{g}_wall"] += time.perf_counter() - gc_started[0]
            gc_time[f"gc_gen{g}_cpu"] += time.process_time() - gc_started[1]

    gc.callbacks.append(gc_callback)

    def begin(_signum: int, _frame: FrameType | None) -> None:
        start["switches"] = _switches()
        start["cpu"] = _cpu()
        start["wall"] = time.perf_counter()
        start["gc"] = gc.get_count()
        _time_functions(spent, calls)
        on[0] = True

    def dump() -> None:
        if not on[0]:
            return
        on[0] = False
        v, n = _switches()
        user, system = _cpu()
        survivors = Counter(type(o).__name__ for o in gc.get_objects(generation=1))
        result = {
            "wall": time.perf_counter() - start["wall"],
            "user": user - start["cpu"][0],
            "system": system - start["cpu"][1],
            "voluntary_switches": v - start["switches"][0],
            "nonvoluntary_switches": n - start["switches"][1],
            "gc_threshold": gc.get_threshold(),
            "gc_frozen": gc.get_freeze_count(),
            **counts,
            **{k: round(t, 6) for k, t in gc_time.items()},
            "cpu_in": {k: round(t, 6) for k, t in spent.items()},
            "calls": dict(calls),
            "gen1_types": dict(survivors.most_common(15)),
            "callbacks": dict(callbacks.most_common(60)),
        }
        with open(out, "w") as f:
            json.dump(result, f, indent=1)

    loop_class = asyncio.unix_events._UnixSelectorEventLoop
    add_signal_handler = loop_class.add_signal_handler

    def dumping_add_signal_handler(self: Any, sig: int, callback: Any, *args: Any) -> None:
        def first_dump(*a: Any) -> None:
            if sig == signal.SIGTERM:  # the bench is done: shutdown is not counted
                dump()
            callback(*a)

        add_signal_handler(self, sig, first_dump, *args)

    loop_class.add_signal_handler = dumping_add_signal_handler  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, begin)
    atexit.register(dump)
    try:
        runpy.run_module("bassline", run_name="__main__")
    finally:
        dump()


if __name__ == "__main__":
    main()
