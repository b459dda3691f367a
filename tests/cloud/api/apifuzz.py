"""Schemathesis against the ASGI app in-process: no 5xx, responses as the OpenAPI spec says.

Deterministic: one fixed seed (printed; `DOLBOM_FUZZ_SEED` replays another), a bounded
number of examples per operation and mode (`DOLBOM_FUZZ_EXAMPLES`), no example database, no
deadline (a loaded 2-core CI box is slow, never wrong).
"""

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode

SEED = int(os.environ.get("DOLBOM_FUZZ_SEED", "20261205"))
EXAMPLES = int(os.environ.get("DOLBOM_FUZZ_EXAMPLES", "6"))
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
NEVER = {"GET /alerts/stream"}  # an endless SSE stream, tested on its own


@dataclass
class FuzzReport:
    """What ran: operations, requests, and the status codes seen."""

    seed: int
    operations: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def _run(
    report: FuzzReport,
    label: str,
    strategy: st.SearchStrategy[Case[Any]],
    callers: st.SearchStrategy[Mapping[str, str]],
    examples: int,
) -> None:
    @seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, caller=callers)
    def run(case: Case[Any], caller: Mapping[str, str]) -> None:
        response = case.call(headers=dict(caller))
        report.requests += 1
        code = response.status_code
        report.statuses[code] = report.statuses.get(code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as e:
            raise AssertionError(f"seed {SEED}: {case.method} {case.formatted_path}: {e}") from e
        if code >= 400:
            detail = response.json().get("detail")
            assert isinstance(detail, str), (SEED, label, response.text)

    run()


def fuzz(
    app: FastAPI,
    callers: Sequence[Mapping[str, str]],
    *,
    keep: Callable[[str], bool] = lambda label: True,
    path_parameters: Callable[[str], dict[str, Any]] = lambda label: {},
    examples: int = EXAMPLES,
) -> FuzzReport:
    """Run every kept operation, in both generation modes, as each caller in turn."""
    print(f"schemathesis fuzz: seed {SEED} (replay with DOLBOM_FUZZ_SEED={SEED})")
    report = FuzzReport(seed=SEED)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    who = st.sampled_from(list(callers))
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid spec raises here
        if operation.label in NEVER or not keep(operation.label):
            continue
        report.operations += 1
        fixed = path_parameters(operation.label)
        for mode in GenerationMode:
            strategy = operation.as_strategy(mode, path_parameters=fixed or None)
            try:
                _run(report, operation.label, strategy, who, examples)
            except Unsatisfiable:
                # Negative mode: nothing in this operation can be made invalid (no parameters).
                if mode is GenerationMode.POSITIVE:
                    raise
    return report
