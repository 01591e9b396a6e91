"""Test configuration: hypothesis profiles and the claim-marker plugin.

Profiles: ``dev`` (default), ``ci`` (loaded when ``CI`` is set: derandomized, no example
database) and ``thorough``; ``HYPOTHESIS_PROFILE`` overrides.

Where torch sees no CUDA device, ``TRITON_INTERPRET=1`` is set before anything imports triton,
so the Triton kernels of ``kernels.gpu`` run in Triton's interpreter (an explicit
``TRITON_INTERPRET`` in the environment is left as it is).

Every test links to the claims it backs with ``@pytest.mark.claim("d000.conv.output-size")``.
Unknown ids fail the collection. With ``--claims-report PATH`` the run writes
``[{nodeid, outcome, claims}]`` to PATH (used by ``layercheck check``); the claim ids travel
in ``user_properties`` so the report also works under pytest-xdist. With
``--claims-select ID,ID,...`` only the tests linked to those claims run (the others are
deselected; ``-`` selects none): ``layercheck check --topic T`` uses it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# The Triton kernels (kernels.gpu) run compiled where torch sees a CUDA device and in Triton's
# interpreter on the CPU elsewhere; the interpreter must be chosen before triton is imported.
if "TRITON_INTERPRET" not in os.environ:
    import torch

    if not torch.cuda.is_available():
        os.environ["TRITON_INTERPRET"] = "1"

import pytest
from hypothesis import HealthCheck, settings

from theory.ledger import claims_by_id

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def claim_ids(item: pytest.Item) -> list[str]:
    return [cid for mark in item.iter_markers("claim") for cid in mark.args]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--claims-report", default=None, help="write per-test claim outcomes (JSON)")
    parser.addoption(
        "--claims-select",
        default=None,
        help="comma-separated claim ids: run only the tests linked to them ('-': none)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = claims_by_id()
    unknown = sorted(
        {(cid, it.nodeid) for it in items for cid in claim_ids(it) if cid not in known}
    )
    if unknown:
        raise pytest.UsageError(
            "tests name claims that are not in the ledger: "
            + "; ".join(f"{cid} ({node})" for cid, node in unknown)
        )
    for item in items:
        ids = claim_ids(item)
        if ids:
            item.user_properties.append(("claims", ids))
    chosen = config.getoption("--claims-select")
    if chosen is not None:
        wanted = {c for c in chosen.split(",") if c and c != "-"}
        missing = sorted(wanted - set(known))
        if missing:
            raise pytest.UsageError(f"--claims-select names unknown claims: {missing}")
        keep = [it for it in items if wanted & set(claim_ids(it))]
        dropped = [it for it in items if not wanted & set(claim_ids(it))]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep


_results: dict[str, dict] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    claims = next((v for k, v in report.user_properties if k == "claims"), None)
    if claims is None:
        return
    entry = _results.setdefault(
        report.nodeid, {"nodeid": report.nodeid, "claims": claims, "outcome": "passed"}
    )
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--claims-report")
    if path and not hasattr(session.config, "workerinput"):  # the controller writes it
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(
            json.dumps(sorted(_results.values(), key=lambda e: e["nodeid"]), indent=1)
        )
