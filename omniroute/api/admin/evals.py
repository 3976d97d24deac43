"""``/api/evals``: eval suites and their runs against models.

GET    /api/evals                  the suites: the built-in golden one and the saved ones
POST   /api/evals                  {"name", "description"?, "cases": [...]}: create or
                                   replace a suite (201 when new), checked first
DELETE /api/evals/{name}           forget a saved suite
POST   /api/evals/{name}/runs      {"models": [...], "parallel"?}: start a run in the
                                   background (202, {"run": id}); the local CLI token
                                   may start one too; 409 while MAX_RUNS are going
GET    /api/evals/runs             recent runs (?limit=, at most 200)
GET    /api/evals/runs/{id}        one run: progress, each result, per-model summary
"""

from __future__ import annotations

import functools
import time
from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import Manage, body_of, path_id
from omniroute.api.admin.params import whole
from omniroute.api.bodies import field
from omniroute.errors import BadRequest, Conflict, NotFound
from omniroute.gateway.evals.runner import DEFAULT_PARALLEL, MAX_MODELS, MAX_PARALLEL, EvalRunner
from omniroute.gateway.evals.suites import (
    GOLDEN,
    GOLDEN_SUITE,
    Suite,
    SuiteError,
    check_name,
    read_suite,
)
from omniroute.gateway.evals.summary import summarize
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store import evals as rows


class EvalRoutes:
    __slots__ = ("_m", "_runner")

    def __init__(self, manage: Manage, runner: EvalRunner) -> None:
        self._m = manage
        self._runner = runner

    def install(self, router: Router, guards: Guards) -> None:
        read, change = guards.token_or_session, guards.session
        router.add("GET", "/api/evals", read(self.suites), label=ADMIN_TOKEN)
        router.add("POST", "/api/evals", change(self.save), label=ADMIN_SESSION)
        router.add("DELETE", "/api/evals/{name}", change(self.delete), label=ADMIN_SESSION)
        # Starting a run changes no configuration: the local CLI may do it.
        router.add("POST", "/api/evals/{name}/runs", read(self.start), label=ADMIN_TOKEN)
        router.add("GET", "/api/evals/runs", read(self.runs), label=ADMIN_TOKEN)
        router.add("GET", "/api/evals/runs/{id}", read(self.run), label=ADMIN_TOKEN)

    @property
    def _store(self) -> Store:
        return self._m.live.store

    async def suites(self, request: Request) -> Response:
        stored = await self._store.read(rows.list_suites)
        saved = []
        for item in stored:
            entry = {"name": item.name, "description": item.description, "builtin": False,
                     "cases": item.cases, "updated_at": item.updated_at}  # fmt: skip
            saved.append(entry)
        return Response.json({"suites": [GOLDEN_SUITE.to_json(), *saved]})

    async def save(self, request: Request) -> Response:
        body = body_of(request, ("name", "description", "cases"))
        if body.get("name") == GOLDEN:
            raise Conflict(f"{GOLDEN!r} is the built-in suite; save yours under another name")
        try:
            suite = read_suite(body.get("name"), body.get("cases"), body.get("description"))
        except SuiteError as exc:
            raise BadRequest(str(exc)) from None
        cases = [case.to_json() for case in suite.cases]
        put = functools.partial(
            rows.put_suite,
            name=suite.name,
            description=suite.description,
            cases=cases,
            now=time.time(),
        )
        created = await self._store.write(put)
        await self._m.auditor(request).record(
            "eval.create" if created else "eval.replace", suite.name, {"cases": len(cases)}
        )
        return Response.json({"suite": suite.to_json()}, status=201 if created else 200)

    async def delete(self, request: Request) -> Response:
        name = request.path_params.get("name", "")
        if name == GOLDEN:
            raise Conflict(f"{GOLDEN!r} is the built-in suite and cannot be deleted")
        if not await self._store.write(functools.partial(rows.delete_suite, name=name)):
            raise NotFound(f"no eval suite {name!r}")
        await self._m.auditor(request).record("eval.delete", name, None)
        return Response.json({"deleted": name})

    async def start(self, request: Request) -> Response:
        suite = await self._suite(request.path_params.get("name", ""))
        body = body_of(request, ("models", "parallel"))
        models = _models(body)
        parallel = field(body, "parallel", int, required=False)
        parallel = DEFAULT_PARALLEL if parallel is None else parallel
        if not 1 <= parallel <= MAX_PARALLEL:
            raise BadRequest(f"'parallel' must be a whole number from 1 to {MAX_PARALLEL}")
        registry = self._m.live.registry()
        for model in models:
            try:
                registry.resolve(model)
            except NotFound as exc:
                raise BadRequest(f"model {model!r} cannot be used: {exc.message}") from None
        run_id = await self._runner.start(suite, models, parallel)
        return Response.json({"run": run_id}, status=202)

    async def runs(self, request: Request) -> Response:
        limit = whole(request, "limit", 1, 200) or 20
        found = await self._store.read(functools.partial(rows.recent_runs, limit=limit))
        return Response.json({"runs": found})

    async def run(self, request: Request) -> Response:
        run_id = path_id(request)
        run = await self._store.read(functools.partial(rows.get_run, run_id=run_id))
        if run is None:
            raise NotFound(f"no eval run {run_id}")
        results = await self._store.read(functools.partial(rows.run_results, run_id=run_id))
        passed = sum(1 for r in results if r["passed"])
        return Response.json(
            {
                **run,
                "done": len(results),
                "passed": passed,
                "summary": summarize(run["models"], results),
                "results": results,
            }
        )

    async def _suite(self, name: str) -> Suite:
        if name == GOLDEN:
            return GOLDEN_SUITE
        try:
            check_name(name)
        except SuiteError:
            raise NotFound(f"no eval suite {name!r}") from None
        stored = await self._store.read(functools.partial(rows.get_suite, name=name))
        if stored is None:
            raise NotFound(f"no eval suite {name!r}; GET /api/evals lists them")
        try:
            return read_suite(stored.name, stored.cases, stored.description)
        except SuiteError as exc:  # saved by an older version with other rules
            raise BadRequest(f"the saved suite {name!r} cannot be run: {exc}") from None


def _models(body: dict[str, Any]) -> list[str]:
    models = field(body, "models", list)
    if not 1 <= len(models) <= MAX_MODELS or not all(
        isinstance(m, str) and m.strip() for m in models
    ):
        raise BadRequest(f"'models' must be a list of 1 to {MAX_MODELS} model names")
    unique = list(dict.fromkeys(m.strip() for m in models))
    if len(unique) != len(models):
        raise BadRequest("'models' names a model twice")
    return unique
