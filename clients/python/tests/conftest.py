"""The real bridge for the client's tests.

A session fixture starts ``test/support/python-bridge.ts`` (the real OIDC
provider, bridge API and workers on Redis + PGlite, reading a contract
Butler server) and reads the one JSON line it prints. When PYTHON_BRIDGE
holds such a line already (the vitest wrapper starts one bridge for both
this suite and the notebook), that bridge is used instead.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "src"))

from rsp_zooniverse_bridge import Bridge  # noqa: E402


@pytest.fixture(scope="session")
def live() -> Iterator[Dict[str, Any]]:
    given = os.environ.get("PYTHON_BRIDGE")
    if given:
        yield json.loads(given)
        return
    proc = subprocess.Popen(
        ["npx", "tsx", "test/support/python-bridge.ts"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"test/support/python-bridge.ts exited ({proc.wait()}) before printing its address; see its stderr above")
        yield json.loads(line)
    finally:
        # Closing its stdin tells the harness to stop; it cleans up its temporary files.
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def bridge(live: Dict[str, Any]) -> Bridge:
    """The client as the PI alien, configured from explicit arguments."""
    return Bridge(live["url"], token=live["tokens"]["alien"])


@pytest.fixture(scope="session")
def other(live: Dict[str, Any]) -> Bridge:
    """Another PI."""
    return Bridge(live["url"], token=live["tokens"]["other"])


@pytest.fixture()
def new_run(live: Dict[str, Any]) -> Callable[..., str]:
    """Puts cutouts into a fresh run collection in the Butler (what butler.put does for a PI); returns its name."""

    def make(owner: str = "alien", patches: int = 1, stamps: int = 4) -> str:
        run = f"u/{owner}/py-{uuid.uuid4().hex[:8]}"
        r = requests.post(live["control"] + "/butler", json={"run": run, "patches": patches, "stamps": stamps}, timeout=30)
        r.raise_for_status()
        return run

    return make


@pytest.fixture()
def seed_results(live: Dict[str, Any]) -> Callable[[str], int]:
    """Volunteers' classifications for a collection, reduced as the bridge's results loop would leave them."""

    def seed(collection_id: str) -> int:
        r = requests.post(live["control"] + "/results", json={"collectionId": collection_id}, timeout=60)
        assert r.status_code == 200, r.text
        return int(r.json()["subjects"])

    return seed


@pytest.fixture()
def registered(bridge: Bridge, new_run: Callable[..., str], live: Dict[str, Any]):
    """A collection registered and through the pipeline: 4 images judged, in quarantine."""
    run = new_run()
    c = bridge.register_collection(run, repository=live["repository"])
    s = bridge.status(c, watch=True, interval=0.2, timeout=60, progress=False, out=io.StringIO())
    assert s.image_count == 4, str(s)
    return c
