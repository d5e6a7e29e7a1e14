"""What a PI does, through the client, against the real bridge."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from rsp_zooniverse_bridge import Bridge, Collection, Conflict, Forbidden, Preview, Unprocessable, ValidationError


def test_register_answers_the_collection_and_the_pipeline_puts_its_images_in_quarantine(bridge, new_run, live):
    run = new_run()
    c = bridge.register_collection(run, repository=live["repository"], bands=["g", "r", "i"], colour="lupton")
    assert isinstance(c, Collection)
    assert c.name == run and c.status == "active"
    assert c["colour"] == {"preset": "lupton"}
    assert c["rgb"] == ["i", "r", "g"]
    out = io.StringIO()
    s = bridge.status(run, watch=True, interval=0.2, timeout=60, progress=False, out=out)
    assert s.settled
    assert s.quarantined == 4 and s.judged == 4
    assert s.artifacts == {"converted": 3}
    # Text progress (no tqdm here): a bar that ends full, and the final line.
    text = out.getvalue()
    assert "[####################] 7/7" in text
    assert text.rstrip().splitlines()[-1].startswith("done: datasets 3/3 converted, images 4/4 judged, 4 in quarantine")
    assert "EPO reviewer" in str(s)
    # The name works wherever a collection is wanted.
    assert bridge.collection(run).id == c.id


def test_validation_errors_carry_the_bridges_message_and_field(bridge, live):
    with pytest.raises(ValidationError) as e:
        bridge.register_collection("u/alien/anything", repository=live["repository"], bands=["q"])
    assert e.value.status == 400 and e.value.code == "validation_failed"
    assert e.value.field == "bands.0"
    # The same words as the API's own answer.
    raw = requests.post(live["url"] + "/api/v1/collections", json={"repository": live["repository"], "collection": "u/alien/anything", "bands": ["q"]}, headers={"Authorization": "Bearer " + live["tokens"]["alien"]}, timeout=30).json()
    assert e.value.detail == raw["detail"] and e.value.title == raw["title"]
    assert raw["detail"] in str(e.value)

    with pytest.raises(ValidationError) as e2:
        bridge.register_collection("not-a-user-run", repository=live["repository"])
    assert e2.value.field == "collection"
    assert "u/<username>/" in e2.value.detail

    with pytest.raises(ValidationError) as e3:
        bridge.settings(next(iter(bridge.collections())), max_batch_size=20000)
    assert e3.value.field == "maxBatchSize" and "10,000" in e3.value.detail


def test_another_pis_collection_is_forbidden(bridge, other, registered, new_run, live):
    with pytest.raises(Forbidden) as e:
        other.collection(registered.id)
    assert e.value.status == 403 and e.value.detail
    with pytest.raises(Forbidden):
        other.settings(registered.id, max_batch_size=10)
    with pytest.raises(Forbidden):
        other.results(registered.id)
    with pytest.raises(Forbidden):
        other.upload_metadata(registered.id, [{"object": 0, "mag": 1.0}])
    # Registering under someone else's u/<name>/ is refused too.
    theirs = new_run(owner="other")
    with pytest.raises(Forbidden):
        bridge.register_collection(theirs, repository=live["repository"])
    # By name, another PI's collection is simply not among one's own.
    with pytest.raises(Exception, match="No collection named"):
        other.collection(registered.name)


def test_registering_twice_is_a_conflict(bridge, registered, live):
    with pytest.raises(Conflict) as e:
        bridge.register_collection(registered.name, repository=live["repository"])
    assert e.value.status == 409


def test_preview_shows_every_preset_as_png_images(bridge, new_run, live):
    run = new_run()
    p = bridge.preview(run, repository=live["repository"])
    assert isinstance(p, Preview)
    assert p.presets and "sky-asinh" in p.presets
    assert len(p.stamps) == 3
    for s in p.stamps:
        assert [i.preset for i in s.images] == p.presets
        for i in s.images:
            assert i.png is not None and i.png.startswith(b"\x89PNG\r\n\x1a\n"), i.error
    html = p._repr_html_()
    assert html.count("<img ") == 3 * len(p.presets)
    # Nothing was registered.
    assert run not in [c.name for c in bridge.collections()]
    with pytest.raises(Unprocessable):
        bridge.preview("u/alien/nothing-put-here", repository=live["repository"])


def test_settings_read_and_change(bridge, registered):
    assert bridge.settings(registered)["uploadMode"] == "import"
    c = bridge.settings(registered, upload_mode="api", max_batch_size=50, subject_set_naming="galaxies {seq}")
    assert (c["uploadMode"], c["maxBatchSize"], c["subjectSetNaming"]) == ("api", 50, "galaxies {seq}")
    with pytest.raises(TypeError, match="unknown setting"):
        bridge.settings(registered, batch=3)


def test_metadata_from_a_dataframe_an_astropy_table_and_a_csv_file(bridge, registered, tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"stamp": [0, 1, 2, 3], "#objectId": [1567428592185376001, 1567428592185376002, 1567428592185376003, 1567428592185376004], "mag_r": [21.25, 22.0, None, 23.5], "note": ["bright", "", "faint", "edge"]})
    c = bridge.upload_metadata(registered, df, key="stamp")
    assert c["extraMetadata"]["objects"] == 4
    assert set(c["extraMetadata"]["objectColumns"]) == {"#objectId", "mag_r", "note"}

    table_mod = pytest.importorskip("astropy.table")
    t = table_mod.Table({"object": [0, 1], "score": [0.5, 0.75]})
    c = bridge.upload_metadata(registered, t)
    assert c["extraMetadata"]["objects"] == 2 and c["extraMetadata"]["objectColumns"] == ["score"]

    path = tmp_path / "meta.csv"
    path.write_text("object,priority\n0,5\n3,1\n")
    c = bridge.upload_metadata(registered, path)
    assert c["extraMetadata"]["objects"] == 2 and c["extraMetadata"]["objectColumns"] == ["priority"]

    # The bridge's table errors come back by name.
    with pytest.raises(ValidationError) as e:
        bridge.upload_metadata(registered, [{"object": 0, "bad\u0007name": 1}])
    assert e.value.detail
    with pytest.raises(ValueError, match="no column 'object'"):
        bridge.upload_metadata(registered, [{"stamp": 0, "x": 1}])


def test_results_as_dataframe_astropy_table_and_rows_with_object_ids_and_sky_positions(bridge, registered, seed_results):
    pd = pytest.importorskip("pandas")
    ids = {0: 1567428592185376001, 1: 1567428592185376002, 2: 1567428592185376003, 3: 1567428592185376004}
    bridge.upload_metadata(registered, pd.DataFrame({"object": list(ids), "#objectId": list(ids.values())}))
    assert seed_results(registered.id) == 4

    df = bridge.results(registered)
    assert len(df) == 4
    # 64-bit object ids arrive exactly, as text.
    assert sorted(df["object_id"]) == sorted(str(v) for v in ids.values())
    assert df["classifications"].dtype.name == "Int64"
    assert df["T0.agreement"].between(0, 1).all()
    assert df["retired"].dtype.name == "boolean"
    coord = df.attrs["coord"]
    assert len(coord) == 4 and abs(coord[0].ra.deg - df["ra"].iloc[0]) < 1e-9

    t = bridge.results(registered, format="astropy")
    assert len(t) == 4 and str(t["ra"].unit) == "deg"
    assert type(t["coord"]).__name__ == "SkyCoord"
    assert abs(t["coord"][0].dec.deg - t["dec"][0]) < 1e-9

    rows = bridge.results(registered, format="rows")
    assert {r["object_id"] for r in rows} == {str(v) for v in ids.values()}

    # Filters are the API's: the most agreed answers only.
    top = bridge.results(registered, min_agreement=0.7)
    assert len(top) == (df["T0.agreement"] >= 0.7).sum()
    with pytest.raises(ValidationError) as e:
        bridge.results(registered, min_agreement=2)
    assert e.value.field == "minAgreement"
    st = bridge.results_status(registered)
    assert st["reducedSubjects"] == 4


def test_events_failures_retry_export_and_retract(bridge, registered, live, tmp_path):
    kinds = [e["kind"] for e in bridge.events(registered)]
    assert "batch_quarantined" in kinds and "files_retrieved" in kinds
    mine = bridge.events(limit=500)
    assert any(e["collectionId"] == registered.id for e in mine)

    assert bridge.failures(registered) == {"artifacts": [], "batches": [], "stamps": [], "moreStamps": False}
    assert bridge.retry(registered) == {"artifacts": [], "batches": []}

    # An EPO reviewer approves two images; they publish at once on this bridge.
    imgs = bridge.images(registered)
    rev = {"Authorization": "Bearer " + live["tokens"]["rev"]}
    r = requests.post(live["url"] + "/api/v1/review/decisions", json={"imageIds": [i["id"] for i in imgs[:2]], "action": "approve"}, headers=rev, timeout=30)
    assert r.status_code == 200, r.text
    path = bridge.export(registered, tmp_path)
    assert path.parent == tmp_path and path.suffix == ".zip"
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert "manifest.csv" in names and sum(n.endswith(".png") for n in names) == 2

    res = bridge.retract(images=[imgs[0]["id"]], reason="a satellite trail crosses it")
    assert len(res) == 1 and res[0]["imageId"] == imgs[0]["id"]
    with pytest.raises(ValueError, match="say why"):
        bridge.retract(images=[imgs[1]["id"]], reason=" ")


def test_the_token_never_shows(live, monkeypatch, tmp_path, caplog):
    token = live["tokens"]["alien"]
    monkeypatch.setenv("ACCESS_TOKEN", token)
    monkeypatch.setenv("BRIDGE_URL", live["url"] + "/api/v1/")
    b = Bridge()
    assert b.url == live["url"]
    assert token not in repr(b) and token not in str(b._http._session.auth) and "ACCESS_TOKEN" in repr(b)
    caplog.set_level("DEBUG")
    assert b.me()["username"] == "alien"
    with pytest.raises(Exception) as e:
        b.collection("00000000-0000-4000-8000-000000000000")
    assert token not in str(e.value) and token not in repr(e.value.__dict__)
    assert token not in caplog.text
    # A token file, as a PI outside the RSP would keep it.
    f = tmp_path / "token"
    f.write_text(token + "\n")
    monkeypatch.delenv("ACCESS_TOKEN")
    assert Bridge(live["url"], token_file=f).me()["username"] == "alien"


def test_a_bad_token_is_unauthenticated(live):
    from rsp_zooniverse_bridge import Unauthenticated

    with pytest.raises(Unauthenticated) as e:
        Bridge(live["url"], token="not-a-token").me()
    assert e.value.status == 401


def test_ids_that_lost_digits_are_refused_before_sending(bridge, registered):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"object": [0, 1], "#objectId": [1567428592185376001, None]})  # a gap: pandas makes floats
    with pytest.raises(ValueError, match="'#objectId'.*lost digits"):
        bridge.upload_metadata(registered, df)
    df["#objectId"] = pd.array([1567428592185376001, None], dtype="Int64")
    assert bridge.upload_metadata(registered, df)["extraMetadata"]["objects"] == 2


def test_results_before_any_classification_are_an_empty_table(bridge, registered):
    pytest.importorskip("pandas")
    df = bridge.results(registered)
    assert len(df) == 0 and "object_id" in df.columns and len(df.attrs["coord"]) == 0
    t = bridge.results(registered, format="astropy")
    assert len(t) == 0 and "coord" in t.colnames
    assert bridge.results(registered, format="rows") == []


def test_watching_a_run_with_nothing_in_it_ends_and_says_so(bridge, live):
    import uuid

    run = f"u/alien/empty-{uuid.uuid4().hex[:8]}"
    c = bridge.register_collection(run, repository=live["repository"])
    out = io.StringIO()
    s = bridge.status(c, watch=True, interval=0.2, timeout=60, progress=False, out=out)
    assert s.polled and s.datasets == 0 and s.image_count == 0
    assert "done: datasets 0/0 converted, images 0/0 judged" in out.getvalue()
    # The Butler's own words reach the PI, in the watch's last line and in the status.
    assert f"the last poll failed: Collection '{run}' does not exist in Butler repository" in out.getvalue()
    assert "last poll failed" in str(s)
