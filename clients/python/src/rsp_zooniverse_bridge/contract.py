"""The part of the bridge's HTTP API this client uses, in one table.

The client calls the bridge only through these operations (``Bridge._call``
looks them up by name), so this table is exactly what the client depends on.
``check_openapi`` compares it with the bridge's ``/api/v1/openapi.json``; the
test suite runs it against the live bridge, so a renamed path, a dropped
parameter, a request field the API no longer takes or a new required one
breaks the build instead of a PI's notebook. The response fields each
operation reads (``reads``) are checked against live answers by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    #: JSON body fields the client may send (None: the body is not JSON).
    body: Optional[FrozenSet[str]] = None
    #: Query parameters the client may send.
    query: FrozenSet[str] = frozenset()
    #: Top-level response fields the client reads.
    reads: Tuple[str, ...] = ()
    #: Content type of a non-JSON request body.
    content_type: Optional[str] = None


REGISTRATION_FIELDS = frozenset({"repository", "collection", "sourceKind", "sourceRoot", "datasetType", "bands", "rgb", "colour", "zooniverseProjectId", "subjectSetNaming", "pollIntervalSeconds"})
SETTINGS_FIELDS = frozenset({"zooniverseProjectId", "uploadMode", "maxBatchSize", "subjectSetPer", "subjectSetNaming", "subjectFrames", "oneIncompleteSet", "extraMetadata"})
RESULT_FILTERS = frozenset({"task", "answer", "minAgreement", "maxAgreement", "retired", "flagged"})
COLLECTION_READS = ("id", "collection", "status", "lastPolledAt", "lastPollError")

OPERATIONS: Dict[str, Operation] = {
    "me": Operation("GET", "/me", reads=("username", "roles")),
    "list_collections": Operation("GET", "/collections", query=frozenset({"mine", "after", "limit"}), reads=("items", "next")),
    "register": Operation("POST", "/collections", body=REGISTRATION_FIELDS, reads=COLLECTION_READS),
    "preview": Operation("POST", "/collections/preview", body=REGISTRATION_FIELDS, reads=("collection", "presets", "channels", "stamps")),
    "get_collection": Operation("GET", "/collections/{id}", reads=COLLECTION_READS + ("counts",)),
    "settings": Operation("PATCH", "/collections/{id}", body=SETTINGS_FIELDS, reads=COLLECTION_READS),
    "extra_metadata": Operation("PUT", "/collections/{id}/extra-metadata", content_type="text/csv", reads=COLLECTION_READS + ("extraMetadata",)),
    "images": Operation("GET", "/collections/{id}/images", query=frozenset({"after", "limit", "state"}), reads=("items", "next")),
    "why": Operation("GET", "/collections/{id}/why", reads=("total", "groups")),
    "uploads": Operation("GET", "/collections/{id}/uploads", reads=("settled", "uploading", "approved", "published", "linked", "total", "items")),
    "failures": Operation("GET", "/collections/{id}/failures", reads=("artifacts", "batches", "stamps")),
    "retry_artifacts": Operation("POST", "/collections/{id}/artifacts/retry", reads=("items",)),
    "retry_artifact": Operation("POST", "/collections/{id}/artifacts/{artifactId}/retry", reads=("items",)),
    "retry_batches": Operation("POST", "/collections/{id}/batches/retry", reads=("items",)),
    "retry_batch": Operation("POST", "/collections/{id}/batches/{batchId}/retry"),
    "export": Operation("GET", "/collections/{id}/export"),
    "retract": Operation("POST", "/retractions", body=frozenset({"scope", "imageIds", "uploadBatchId", "collectionId", "reason"}), reads=("results",)),
    "collection_events": Operation("GET", "/collections/{id}/events", reads=("items",)),
    "my_events": Operation("GET", "/me/events", query=frozenset({"before", "limit"}), reads=("items", "next")),
    "results_csv": Operation("GET", "/collections/{id}/results.csv", query=RESULT_FILTERS),
    "results_status": Operation("GET", "/collections/{id}/results/status", reads=("pull", "export", "classifications", "reducedSubjects")),
}


def _resolve(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, Mapping) else {}
    return node


def check_openapi(doc: Mapping[str, Any], operations: Mapping[str, Operation] = OPERATIONS) -> List[str]:
    """Every way the OpenAPI document disagrees with what this client sends; [] when none.

    Example::

        import requests
        from rsp_zooniverse_bridge.contract import check_openapi
        problems = check_openapi(requests.get(url + "/api/v1/openapi.json").json())
        assert not problems, problems
    """
    problems: List[str] = []
    paths = doc.get("paths", {})
    for name, op in operations.items():
        where = f"{name} ({op.method} {op.path})"
        item = paths.get(op.path)
        if not isinstance(item, Mapping):
            problems.append(f"{where}: the API has no path {op.path}")
            continue
        spec = item.get(op.method.lower())
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: the API has no {op.method} on {op.path}")
            continue
        params = spec.get("parameters", []) or []
        declared = {(p.get("in"), p.get("name")) for p in params if isinstance(p, Mapping)}
        for placeholder in _placeholders(op.path):
            if ("path", placeholder) not in declared:
                problems.append(f"{where}: path parameter {placeholder} is not declared")
        for q in sorted(op.query):
            if ("query", q) not in declared:
                problems.append(f"{where}: the client sends query parameter {q!r}, which the API does not declare")
        for p in params:
            if isinstance(p, Mapping) and p.get("required") and p.get("in") == "query" and p.get("name") not in op.query:
                problems.append(f"{where}: the API requires query parameter {p.get('name')!r}, which the client never sends")
        content = ((spec.get("requestBody") or {}).get("content") or {}) if isinstance(spec.get("requestBody"), Mapping) else {}
        if op.body is not None:
            schema = content.get("application/json", {}).get("schema")
            if not isinstance(schema, Mapping):
                problems.append(f"{where}: the API takes no JSON body, but the client sends one")
                continue
            schema = _resolve(doc, schema)
            props = set((schema.get("properties") or {}).keys())
            if props:
                for f in sorted(op.body - props):
                    problems.append(f"{where}: the client may send field {f!r}, which the API's request schema does not have")
            for f in sorted(set(schema.get("required") or []) - op.body):
                problems.append(f"{where}: the API requires field {f!r}, which the client never sends")
        elif op.content_type is not None and op.content_type not in content:
            problems.append(f"{where}: the API no longer takes {op.content_type} (it takes {', '.join(content) or 'nothing'})")
    return problems


def _placeholders(path: str) -> List[str]:
    out = []
    rest = path
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        out.append(rest[start + 1 : end])
        rest = rest[end + 1 :]
    return out
