"""The contract: what the client sends and reads, against the live bridge's OpenAPI document and answers."""

from __future__ import annotations

import copy

import requests

from rsp_zooniverse_bridge.contract import OPERATIONS, check_openapi


def openapi(live):
    r = requests.get(live["url"] + "/api/v1/openapi.json", timeout=30)
    r.raise_for_status()
    return r.json()


def test_every_operation_the_client_uses_matches_the_live_openapi_document(live):
    assert check_openapi(openapi(live)) == []


def test_the_check_fails_when_the_api_drifts(live):
    doc = openapi(live)

    gone = copy.deepcopy(doc)
    del gone["paths"]["/collections/{id}/uploads"]
    assert any("uploads" in p and "no path" in p for p in check_openapi(gone))

    renamed = copy.deepcopy(doc)
    reg = renamed["components"]["schemas"]["Registration"]
    reg["properties"]["bandList"] = reg["properties"].pop("bands")
    assert any("'bands'" in p for p in check_openapi(renamed))

    required = copy.deepcopy(doc)
    required["components"]["schemas"]["Registration"].setdefault("required", []).append("purpose")
    required["components"]["schemas"]["Registration"]["properties"]["purpose"] = {"type": "string"}
    assert any("requires field 'purpose'" in p for p in check_openapi(required))

    query = copy.deepcopy(doc)
    query["paths"]["/collections/{id}/results.csv"]["get"]["parameters"] = [p for p in query["paths"]["/collections/{id}/results.csv"]["get"]["parameters"] if p["name"] != "minAgreement"]
    assert any("minAgreement" in p for p in check_openapi(query))

    csv_gone = copy.deepcopy(doc)
    csv_gone["paths"]["/collections/{id}/extra-metadata"]["put"]["requestBody"]["content"] = {"application/json": {}}
    assert any("text/csv" in p for p in check_openapi(csv_gone))


def test_the_fields_the_client_reads_are_in_the_live_answers(bridge, registered, seed_results):
    """Responses have no schemas in the OpenAPI document: the fields each read depends on are checked on real answers."""
    cid = registered.id
    seed_results(cid)
    answers = {
        "me": bridge._call("me"),
        "list_collections": bridge._call("list_collections", params={"mine": True}),
        "get_collection": bridge._call("get_collection", ids={"id": cid}),
        "why": bridge._call("why", ids={"id": cid}),
        "uploads": bridge._call("uploads", ids={"id": cid}),
        "failures": bridge._call("failures", ids={"id": cid}),
        "images": bridge._call("images", ids={"id": cid}),
        "collection_events": bridge._call("collection_events", ids={"id": cid}),
        "my_events": bridge._call("my_events"),
        "results_status": bridge._call("results_status", ids={"id": cid}),
        "retry_artifacts": bridge._call("retry_artifacts", ids={"id": cid}),
        "retry_batches": bridge._call("retry_batches", ids={"id": cid}),
    }
    for name, body in answers.items():
        missing = [f for f in OPERATIONS[name].reads if f not in body]
        assert not missing, f"{name}: the bridge's answer has no {missing} (it has {sorted(body)})"
    # The results CSV keeps the columns results() documents.
    header = bridge._call("results_csv", ids={"id": cid}, raw=True).text.splitlines()[0].split(",")
    for col in ("object_id", "ra", "dec", "image_id", "subject_id", "classifications", "T0.most_likely", "T0.agreement", "retired", "retired_reason", "flags"):
        assert col in header, col
