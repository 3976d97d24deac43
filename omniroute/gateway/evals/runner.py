"""Running a suite against several models, in the background.

Each case goes through the gateway's own pipeline as an OpenAI chat request
from the gateway itself (no client key), so routing, combos, fallback,
breakers, limits, prices and the request log apply exactly as they do to a
client's request. Cases of all models share one bound on how many are in
flight at once; models advance side by side. Every result is stored as it
comes (on the store's writer thread), so a run can be watched while it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable

from omniroute import errors
from omniroute.formats.common import new_id
from omniroute.gateway.call import Call
from omniroute.gateway.evals.suites import Case, Suite
from omniroute.gateway.pipeline import Pipeline
from omniroute.store import Store
from omniroute.store import evals as rows

log = logging.getLogger("omniroute.evals")

MAX_OUTPUT = 4000  # characters of an answer kept with its result
MAX_MODELS = 10
DEFAULT_PARALLEL = 4
MAX_PARALLEL = 16
MAX_RUNS = 4  # runs going at once; more wait for one of them to end


class EvalRunner:
    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self._wall = wall
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._starting = 0

    async def recover(self) -> None:
        """On start: runs left unfinished by the last stop are marked so."""
        await self._store.write(functools.partial(rows.end_unfinished_runs, now=self._wall()))

    async def start(self, suite: Suite, models: list[str], parallel: int = DEFAULT_PARALLEL) -> int:
        """Store a new run and start it; its id at once. Conflict when
        MAX_RUNS are going already."""
        if len(self._tasks) + self._starting >= MAX_RUNS:
            raise errors.Conflict(
                f"{MAX_RUNS} eval runs are going already; start this one when one has ended"
            )
        # Counted while its row is written, so starts at the same moment
        # cannot pass the limit together.
        self._starting += 1
        try:
            create = functools.partial(
                rows.create_run,
                suite=suite.name,
                models=models,
                cases=len(suite.cases),
                now=self._wall(),
            )
            run_id = await self._store.write(create)
        finally:
            self._starting -= 1
        task = asyncio.create_task(self._run(run_id, suite, models, parallel))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        return run_id

    async def stop(self) -> None:
        """Cancel runs in flight (they are stored as interrupted)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self, run_id: int) -> None:
        """Until the run has ended (at once when it is not running here)."""
        task = self._tasks.get(run_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def _run(self, run_id: int, suite: Suite, models: list[str], parallel: int) -> None:
        gate = asyncio.Semaphore(parallel)
        status = "failed"
        try:
            # Case by case across the models, so each model's progress keeps pace.
            # A task group: if storing a result fails, the other cases stop too.
            async with asyncio.TaskGroup() as group:
                for case in suite.cases:
                    for model in models:
                        group.create_task(self._one(gate, run_id, model, case))
            status = "done"
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        except Exception:
            log.exception("eval run %d failed", run_id)
        finally:
            finish = functools.partial(
                rows.finish_run, run_id=run_id, status=status, now=self._wall()
            )
            # Shielded: a cancelled run still records how it ended.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._store.write(finish))

    async def _one(self, gate: asyncio.Semaphore, run_id: int, model: str, case: Case) -> None:
        async with gate:
            started = self._clock()
            output, cost, error = await self._ask(run_id, model, case)
            latency = round((self._clock() - started) * 1000, 1)
        if error is None:
            verdict = case.check.judge(output)
            passed, error = verdict.passed, verdict.error
        else:
            passed = False
        row = rows.ResultRow(
            run_id=run_id,
            model=model,
            case_id=case.id,
            passed=passed,
            output=output[:MAX_OUTPUT],
            latency_ms=latency,
            cost=cost,
            error=error,
        )
        await self._store.write(functools.partial(rows.add_result, row=row))

    async def _ask(
        self, run_id: int, model: str, case: Case
    ) -> tuple[str, float | None, str | None]:
        """The answer's text, its cost and, when there is no answer, why."""
        messages: list[dict[str, str]] = []
        if case.system:
            messages.append({"role": "system", "content": case.system})
        messages.append({"role": "user", "content": case.prompt})
        call = Call(
            request_id=new_id("eval-"),
            client_key_id=None,
            dialect="openai",
            body={"model": model, "messages": messages, "stream": False},
            model=model,
            stream=False,
            client_headers={},
        )
        try:
            response = await self._pipeline.run(call)
        except errors.OmniError as err:
            return "", None, err.message
        except Exception:
            # A fault of ours on one case: that case says so, the others go on.
            log.exception("eval run %d: case %s on %s failed", run_id, case.id, model)
            return "", None, "internal error; see the gateway's log"
        body = getattr(response, "body", None)
        if response.status >= 400 or not isinstance(body, bytes):
            return "", None, f"HTTP {response.status}"
        cost = next((float(v) for k, v in response.headers if k == "x-omniroute-cost"), None)
        return _text_of(body), cost, None


def _text_of(body: bytes) -> str:
    """The assistant's text in an OpenAI chat answer ('' when it has none)."""
    try:
        message = json.loads(body)["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
