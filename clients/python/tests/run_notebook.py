"""Execute notebooks/getting-started.ipynb top to bottom against a bridge and check its outputs.

    BRIDGE_URL=... ACCESS_TOKEN=... /usr/bin/python3 clients/python/tests/run_notebook.py [--out executed.ipynb]

The kernel is this Python's ipykernel, with the client from clients/python/src
on its path (no install needed). Fails (exit 1, the reasons on stderr) when a
cell raises, or when the tagged cells do not show: a registration, images in
quarantine, a completed progress watch, a preview with images, and results.
This is how CI notices an interface drift between the bridge and the tutorial.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, List

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "notebooks" / "getting-started.ipynb"
SRC = HERE.parent / "src"


def text_of(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            parts.append(data.get("text/plain", ""))
            parts.append(data.get("text/html", ""))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "\n".join(parts)


def before_cell(nb, cell) -> None:
    """Before the results cell: wait until volunteers' results exist for the collection the notebook registered.

    On a real project that takes days; the test bridge's simulated volunteers
    classify once the images are judged, a moment after the watch ends. The
    wait stands for that time, so the check does not race them.
    """
    if "results" not in cell.metadata.get("tags", []):
        return
    registered = next((c for c in nb.cells if "register" in c.metadata.get("tags", [])), None)
    m = re.search(r"\(id ([0-9a-f-]{36})\)", text_of(registered) if registered else "")
    if not m:
        return  # check() reports the missing registration
    sys.path.insert(0, str(SRC))
    from rsp_zooniverse_bridge import Bridge

    deadline = time.monotonic() + 60
    with Bridge() as bridge:
        while bridge.results_status(m.group(1)).get("reducedSubjects", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)


def check(nb) -> List[str]:
    by_tag: Dict[str, object] = {}
    problems: List[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for t in cell.metadata.get("tags", []):
            by_tag[t] = cell
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                problems.append(f"cell {cell.metadata.get('tags')}: {o.get('ename')}: {o.get('evalue')}")

    def out(tag: str) -> str:
        if tag not in by_tag:
            problems.append(f"no cell tagged {tag!r} in the notebook")
            return ""
        return text_of(by_tag[tag])

    if not re.search(r"(Registered|Already registered:) u/\S+ \(id [0-9a-f-]{36}\)", out("register")):
        problems.append("register: no registration in its output")
    if not re.search(r"Refused, field 'bands\.\d'", out("validation")):
        problems.append("validation: the invalid band was not refused by field")
    if out("preview").count("<img ") < 3:
        problems.append("preview: fewer than 3 images shown")
    progress = out("progress")
    if not re.search(r"^done: datasets (\d+)/\1 converted, images (\d+)/\2 judged", progress, re.M):
        problems.append(f"progress: the watch did not complete: {progress[-400:]!r}")
    m = re.search(r"(\d+) images are in quarantine", out("quarantine"))
    if not m or int(m.group(1)) < 1:
        problems.append("quarantine: no images reached quarantine")
    m = re.search(r"(\d+) subjects have results", out("results"))
    if not m or int(m.group(1)) < 1:
        problems.append("results: no results shown")
    if "<table" not in out("results"):
        problems.append("results: no table shown")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the executed notebook here")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    a = ap.parse_args()
    for var in ("BRIDGE_URL", "ACCESS_TOKEN"):
        if not os.environ.get(var):
            print(f"run_notebook: set {var} (the bridge to run the tutorial against)", file=sys.stderr)
            return 2
    # The kernel inherits this environment: the client from the source tree, and the bridge's address and token.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=a.timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}, on_cell_execute=lambda cell, cell_index: before_cell(nb, cell))
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = str(e).splitlines()[-1] if str(e) else repr(e)
    if a.out:
        nbformat.write(nb, a.out)
    problems = check(nb)
    if failed and not problems:
        problems.append(f"a cell failed: {failed}")
    if problems:
        for p in problems:
            print("notebook:", p, file=sys.stderr)
        return 1
    print(f"notebook: {NOTEBOOK.name} ran end to end; registration, quarantine, progress, preview and results checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
