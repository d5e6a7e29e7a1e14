"""The PI-facing client: what a PI does with the bridge, as methods."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Union
from urllib.parse import quote

from . import _tables
from ._http import Transport, resolve_credentials
from ._progress import Progress
from .contract import OPERATIONS, SETTINGS_FIELDS
from .errors import BridgeError
from .models import Collection, Preview, Status

CollectionRef = Union[str, Collection]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

# Python names for the bridge's upload settings.
_SETTINGS = {
    "zooniverse_project_id": "zooniverseProjectId",
    "upload_mode": "uploadMode",
    "max_batch_size": "maxBatchSize",
    "subject_set_per": "subjectSetPer",
    "subject_set_naming": "subjectSetNaming",
    "subject_frames": "subjectFrames",
    "one_incomplete_set": "oneIncompleteSet",
    "extra_metadata": "extraMetadata",
}
assert set(_SETTINGS.values()) == SETTINGS_FIELDS


class Bridge:
    """A connection to the RSP-to-Zooniverse bridge, as the notebook's user.

    In an RSP notebook nothing needs passing: the token comes from the
    ``ACCESS_TOKEN`` environment variable (Gafaelfawr sets it) and the
    bridge's address from ``BRIDGE_URL``::

        from rsp_zooniverse_bridge import Bridge
        bridge = Bridge()                      # or Bridge(url="https://...", token_file="~/.bridge-token")
        c = bridge.register_collection("u/me/galaxy-cutouts", repository="dp1")
        bridge.status(c, watch=True)

    Args:
        url: the bridge's address (default: ``BRIDGE_URL``).
        token: a bearer token (default: ``ACCESS_TOKEN``). Never printed or logged.
        token_file: read the token from this file instead.
        timeout: seconds to wait for each answer.
        max_retries: how often a 429 or 503 answer is retried (honouring Retry-After, at most ``max_wait`` seconds each;
            the bridge's write limit counts per minute, so the default waits out one window).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        token: Optional[str] = None,
        token_file: Union[str, os.PathLike, None] = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        max_wait: float = 60.0,
    ) -> None:
        base, secret = resolve_credentials(url, token, token_file)
        self.url = base
        self._http = Transport(base, secret, timeout=timeout, max_retries=max_retries, max_wait=max_wait)
        self._ids: Dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Bridge(url={self.url!r}, token={self._http.token!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Bridge":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    def _call(self, name: str, *, ids: Optional[Mapping[str, str]] = None, raw: bool = False, **kw: Any) -> Any:
        op = OPERATIONS[name]
        path = op.path
        for k, v in (ids or {}).items():
            path = path.replace("{" + k + "}", quote(str(v), safe=""))
        body = kw.get("json")
        if body is not None and op.body is not None:
            unknown = set(body) - op.body
            # The contract table is what the client may send; sending more would dodge the contract test.
            assert not unknown, f"{name}: not in the contract: {unknown}"
        if raw:
            return self._http.request(op.method, path, **kw)
        return self._http.json(op.method, path, **kw)

    def _id(self, collection: CollectionRef) -> str:
        """A collection's id from a Collection, an id, or its name (u/<you>/...)."""
        if isinstance(collection, Collection):
            return collection.id
        if not isinstance(collection, str) or not collection:
            raise TypeError(f"collection: expected a Collection, its id or its name, not {type(collection).__name__}")
        if _UUID.match(collection):
            return collection
        if collection in self._ids:
            return self._ids[collection]
        for c in self.collections():
            self._ids[c.name] = c.id
        if collection not in self._ids:
            raise BridgeError(f"No collection named {collection!r} among yours: register it first (bridge.register_collection), or check the name", field="collection")
        return self._ids[collection]

    # ------------------------------------------------------------ who and what

    def me(self) -> Dict[str, Any]:
        """Who the bridge thinks you are: ``{'username', 'roles', 'groups', 'dataRights'}``.

        Example::

            bridge.me()["username"]   # 'alien'
        """
        return self._call("me")

    def collections(self) -> List[Collection]:
        """Your collections, with their image counts."""
        out: List[Collection] = []
        after: Optional[str] = None
        while True:
            page = self._call("list_collections", params={"mine": True, "after": after, "limit": 500})
            out += [Collection(x) for x in page["items"]]
            after = page.get("next")
            if not after:
                return out

    def collection(self, collection: CollectionRef) -> Collection:
        """One collection, with counts of its datasets and images per state."""
        return Collection(self._call("get_collection", ids={"id": self._id(collection)}))

    # ------------------------------------------------------------ registering

    @staticmethod
    def _registration(collection: str, repository: str, *, bands: Optional[Sequence[str]], rgb: Union[str, Sequence[str], None], colour: Union[str, Mapping[str, Any], None], dataset_type: Optional[str], source_kind: Optional[str], source_root: Optional[str], zooniverse_project_id: Union[str, int, None], subject_set_naming: Optional[str], poll_interval_seconds: Optional[int]) -> Dict[str, Any]:
        body: Dict[str, Any] = {"repository": repository, "collection": collection}
        if bands is not None:
            body["bands"] = list(bands)
        if rgb is not None:
            body["rgb"] = rgb if isinstance(rgb, str) else ",".join(rgb)
        if colour is not None:
            body["colour"] = {"preset": colour} if isinstance(colour, str) else dict(colour)
        if dataset_type is not None:
            body["datasetType"] = dataset_type
        if source_kind is not None:
            body["sourceKind"] = source_kind
        if source_root is not None:
            body["sourceRoot"] = source_root
        if zooniverse_project_id is not None:
            body["zooniverseProjectId"] = str(zooniverse_project_id)
        if subject_set_naming is not None:
            body["subjectSetNaming"] = subject_set_naming
        if poll_interval_seconds is not None:
            body["pollIntervalSeconds"] = poll_interval_seconds
        return body

    def register_collection(
        self,
        collection: str,
        repository: str,
        *,
        bands: Optional[Sequence[str]] = None,
        rgb: Union[str, Sequence[str], None] = None,
        colour: Union[str, Mapping[str, Any], None] = None,
        dataset_type: Optional[str] = None,
        source_kind: Optional[str] = None,
        source_root: Optional[str] = None,
        zooniverse_project_id: Union[str, int, None] = None,
        subject_set_naming: Optional[str] = None,
        poll_interval_seconds: Optional[int] = None,
    ) -> Collection:
        """Register a Butler run collection under ``u/<you>/``: the bridge polls it for
        ``zooniverse_cutout`` datasets, converts them to images and quarantines
        them for the data-rights policy and EPO review.

        Args:
            collection: the run collection you ``butler.put`` your cutouts into, ``u/<you>/...``.
            repository: the Butler repository label (``dp02``, ``dp1``...); the data release follows from it.
            bands: the bands your cutouts have (default ``["g", "r", "i"]``).
            rgb: the bands for red, green and blue, e.g. ``"i,r,g"`` (default: reddest first).
            colour: a colour preset name (``"sky-asinh"``, ``"lupton"``...; see :meth:`preview`) or ``{"preset": ..., "stretch": ...}``.
            dataset_type: default ``"zooniverse_cutout"``.
            zooniverse_project_id: a project an admin approved for you (see the bridge's /pi page).
            poll_interval_seconds: how often the bridge looks for new datasets (60 s to 7 days).

        Raises:
            ValidationError: with the bridge's message and ``field`` (e.g. ``bands.0``).
            Forbidden: the collection is not under ``u/<you>/`` nor delegated to you.
            Conflict: already registered.

        Example::

            c = bridge.register_collection("u/me/galaxy-cutouts", repository="dp02", bands=["g", "r", "i"], colour="lupton")
        """
        body = self._registration(collection, repository, bands=bands, rgb=rgb, colour=colour, dataset_type=dataset_type, source_kind=source_kind, source_root=source_root, zooniverse_project_id=zooniverse_project_id, subject_set_naming=subject_set_naming, poll_interval_seconds=poll_interval_seconds)
        c = Collection(self._call("register", json=body))
        self._ids[c.name] = c.id
        return c

    def preview(
        self,
        collection: str,
        repository: str,
        *,
        bands: Optional[Sequence[str]] = None,
        rgb: Union[str, Sequence[str], None] = None,
        dataset_type: Optional[str] = None,
        source_kind: Optional[str] = None,
        source_root: Optional[str] = None,
        show: bool = False,
    ) -> Preview:
        """A few stamps of a collection (before registering it) in every colour preset.

        Nothing is stored. In Jupyter the returned :class:`Preview` shows itself
        as a grid of images when it is a cell's last expression (or with
        ``show=True``). Takes the same arguments, and gives the same errors, as
        :meth:`register_collection`.

        Example::

            bridge.preview("u/me/galaxy-cutouts", repository="dp02")
        """
        body = self._registration(collection, repository, bands=bands, rgb=rgb, colour=None, dataset_type=dataset_type, source_kind=source_kind, source_root=source_root, zooniverse_project_id=None, subject_set_naming=None, poll_interval_seconds=None)
        p = Preview.from_json(self._call("preview", json=body))
        if show:
            try:
                from IPython.display import display

                display(p)
            except ImportError:
                print(p)
        return p

    # ------------------------------------------------------------ settings

    def settings(self, collection: CollectionRef, **changes: Any) -> Collection:
        """Read or change a collection's upload settings (audited; they apply to batches planned afterwards).

        Keyword names: ``zooniverse_project_id``, ``upload_mode`` (``"import"`` or ``"api"``),
        ``max_batch_size``, ``subject_set_per`` (``"batch"`` or ``"collection"``),
        ``subject_set_naming``, ``subject_frames``, ``one_incomplete_set``, ``extra_metadata``.
        Without any, answers the current settings.

        Example::

            bridge.settings(c, upload_mode="api", max_batch_size=500)
        """
        unknown = set(changes) - set(_SETTINGS)
        if unknown:
            raise TypeError(f"settings: unknown setting(s) {', '.join(sorted(unknown))}; use {', '.join(_SETTINGS)}")
        if not changes:
            return self.collection(collection)
        body = {_SETTINGS[k]: (str(v) if k == "zooniverse_project_id" and v is not None else v) for k, v in changes.items()}
        return Collection(self._call("settings", ids={"id": self._id(collection)}, json=body))

    def upload_metadata(self, collection: CollectionRef, table: Any, *, key: str = "object") -> Collection:
        """Replace the per-object metadata volunteers (or only you, for ``#hidden`` columns) see with each subject.

        ``table`` is a pandas DataFrame, an astropy Table, a path to a CSV file,
        or a list of dicts. ``key`` names its column of object keys: a bridge
        image id, ``<dataset id>:<stamp index>``, or the stamp index. Every other
        column becomes a Zooniverse metadata key (``#name``: hidden from
        volunteers; ``!name``: hidden and left out of exports). A column named
        ``objectId`` / ``#objectId`` (or ``diaObjectId``) gives each result row
        its Rubin object id. Empty cells leave the key off that subject.

        Example::

            df = pd.DataFrame({"stamp": [0, 1], "#objectId": [1567428592185376001, 1567428592185376002], "mag_r": [21.3, 22.0]})
            bridge.upload_metadata(c, df, key="stamp")
        """
        text = _tables.metadata_csv(table, key=key)
        return Collection(self._call("extra_metadata", ids={"id": self._id(collection)}, data=text.encode("utf-8"), headers={"Content-Type": "text/csv; charset=utf-8"}))

    # ------------------------------------------------------------ progress

    def status(
        self,
        collection: CollectionRef,
        watch: bool = False,
        *,
        interval: float = 2.0,
        timeout: float = 900.0,
        progress: Optional[bool] = None,
        out: Optional[TextIO] = None,
    ) -> Status:
        """Where a collection is: the Butler poll, conversion, the data-rights policy and review, uploads.

        With ``watch=True`` it follows the collection until nothing is moving
        on the bridge's side (polled, every dataset converted or failed, every
        image judged, uploads at rest), showing a progress bar (tqdm when
        installed, text otherwise), and returns the final status. Images
        waiting for an EPO reviewer end the watch: a person acts next.

        Raises:
            TimeoutError: still moving after ``timeout`` seconds.

        Example::

            s = bridge.status(c, watch=True)
            print(s)              # counts and next steps in words
            s.quarantined         # images waiting in quarantine
        """
        cid = self._id(collection)
        s = self._status(cid)
        if not watch:
            return s
        bar = Progress(f"Following {s.collection.name}", out=out, use_tqdm=progress)
        deadline = time.monotonic() + timeout
        try:
            while True:
                done, total, words = _progress_of(s)
                bar.update(done, total, words)
                if s.settled:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{s.collection.name} is still moving after {timeout:g} s:\n{s}")
                time.sleep(interval)
                s = self._status(cid)
        except BaseException:
            bar.close("stopped watching")
            raise
        error = s.collection.get("lastPollError")
        bar.close(f"done: {words}" + (f"; the last poll failed: {error}" if error else ""))
        return s

    def _status(self, cid: str) -> Status:
        ids = {"id": cid}
        c = Collection(self._call("get_collection", ids=ids))
        counts = c.counts
        return Status(collection=c, artifacts=dict(counts.get("artifacts") or {}), images=dict(counts.get("images") or {}), why=self._call("why", ids=ids), uploads=self._call("uploads", ids=ids))

    def images(self, collection: CollectionRef, *, state: Optional[str] = None) -> List[Dict[str, Any]]:
        """The collection's images (id, stamp index, state, RA/Dec...), optionally in one state (``quarantined``, ``approved``, ``published``, ``uploaded``...)."""
        cid = self._id(collection)
        out: List[Dict[str, Any]] = []
        after: Optional[str] = None
        while True:
            page = self._call("images", ids={"id": cid}, params={"state": state, "after": after, "limit": 500})
            out += page["items"]
            after = page.get("next")
            if not after:
                return out

    def failures(self, collection: CollectionRef) -> Dict[str, Any]:
        """What stopped, with reasons: ``{'artifacts': [...], 'batches': [...], 'stamps': [...]}``.

        Example::

            for a in bridge.failures(c)["artifacts"]:
                print(a["file"], a["error"])
        """
        return self._call("failures", ids={"id": self._id(collection)})

    def retry(self, collection: CollectionRef, *, artifacts: Union[bool, Iterable[str]] = True, batches: Union[bool, Iterable[str]] = True) -> Dict[str, List[Any]]:
        """Take stopped work up again (audited): failed datasets are fetched and converted again,
        failed, blocked or waiting upload batches are sent again.

        ``artifacts`` / ``batches``: True for all of them, False for none, or the ids to retry.

        Example::

            bridge.retry(c, batches=False)          # every failed dataset again
        """
        cid = self._id(collection)
        out: Dict[str, List[Any]] = {"artifacts": [], "batches": []}
        if artifacts is True:
            out["artifacts"] = self._call("retry_artifacts", ids={"id": cid})["items"]
        elif artifacts:
            for a in artifacts:
                out["artifacts"] += self._call("retry_artifact", ids={"id": cid, "artifactId": a})["items"]
        if batches is True:
            out["batches"] = self._call("retry_batches", ids={"id": cid})["items"]
        elif batches:
            for b in batches:
                out["batches"].append(self._call("retry_batch", ids={"id": cid, "batchId": b}))
        return out

    def export(self, collection: CollectionRef, path: Union[str, os.PathLike] = ".") -> Path:
        """Download the export zip (the approved images as they would be published, and
        ``manifest.csv`` for Zooniverse's Project Builder). ``path``: a file, or a directory
        to save it in under the bridge's file name. Returns where it was saved.

        Example::

            bridge.export(c, "~/exports/")
        """
        r = self._call("export", ids={"id": self._id(collection)}, raw=True, stream=True)
        target = Path(path).expanduser()
        if target.is_dir():
            m = re.search(r'filename="([^"]+)"', r.headers.get("Content-Disposition", ""))
            target = target / (m.group(1) if m else "export.zip")
        tmp = target.with_name(target.name + ".part")
        try:
            with tmp.open("wb") as f:
                for chunk in r.iter_content(chunk_size=1 << 16):
                    f.write(chunk)
            tmp.replace(target)
        finally:
            r.close()
            if tmp.exists():
                tmp.unlink()
        return target

    def retract(self, collection: Optional[CollectionRef] = None, *, reason: str, images: Optional[Iterable[str]] = None, batch: Optional[str] = None) -> List[Dict[str, Any]]:
        """Take released images down: subjects are unlinked and deleted at Zooniverse and public copies removed (audited).

        Give ``images`` (image ids), or ``batch`` (an upload batch id), or only
        ``collection`` to take the WHOLE collection down (it is then retired).
        ``reason`` is required and recorded.

        Example::

            bridge.retract(images=[img_id], reason="this object is a satellite trail")
        """
        if not reason or not reason.strip():
            raise ValueError("retract: say why (reason=...)")
        if images is not None:
            body: Dict[str, Any] = {"scope": "images", "imageIds": list(images), "reason": reason}
        elif batch is not None:
            body = {"scope": "batch", "uploadBatchId": batch, "reason": reason}
        elif collection is not None:
            body = {"scope": "collection", "collectionId": self._id(collection), "reason": reason}
        else:
            raise ValueError("retract: give images=[...], batch=... or the collection to take down")
        return self._call("retract", json=body)["results"]

    def events(self, collection: Optional[CollectionRef] = None, *, limit: int = 50) -> List[Dict[str, Any]]:
        """What happened, newest first: batches quarantined, files retrieved, images approved or
        rejected, batches uploaded or failed... For one collection, or (without one) all of yours.

        Example::

            [e["kind"] for e in bridge.events(c)]   # ['batch_quarantined', 'files_retrieved']
        """
        if collection is not None:
            return self._call("collection_events", ids={"id": self._id(collection)})["items"][:limit]
        out: List[Dict[str, Any]] = []
        before: Optional[str] = None
        while len(out) < limit:
            page = self._call("my_events", params={"before": before, "limit": min(200, limit - len(out))})
            out += page["items"]
            before = page.get("next")
            if not before:
                break
        return out[:limit]

    # ------------------------------------------------------------ results

    def results(
        self,
        collection: CollectionRef,
        *,
        task: Optional[str] = None,
        answer: Optional[str] = None,
        min_agreement: Optional[float] = None,
        max_agreement: Optional[float] = None,
        retired: Optional[bool] = None,
        flagged: Optional[bool] = None,
        format: str = "auto",
    ) -> Any:
        """The volunteers' results, one row per subject, keyed by your object id.

        Columns: ``object_id``, ``ra``, ``dec``, ``image_id``, ``subject_id``,
        ``classifications``, per question task ``T0.most_likely``,
        ``T0.agreement``, ``T0.votes.<answer>``..., survey choices, drawing
        clusters, SWAP, ``retired``, ``retired_reason``, ``flags``.

        Args:
            task, answer: only subjects whose consensus for ``task`` is ``answer``.
            min_agreement, max_agreement: consensus agreement between 0 and 1.
            retired, flagged: only retired / flagged subjects (or only the others, with False).
            format: ``"pandas"`` (a DataFrame), ``"astropy"`` (a Table with a ``coord``
                SkyCoord column), ``"rows"`` (a list of dicts) or ``"auto"``: pandas
                when installed, else astropy, else rows. With astropy installed a
                DataFrame also carries the positions as ``df.attrs["coord"]`` (a SkyCoord).

        Example::

            df = bridge.results(c, task="T0", answer="Yes", min_agreement=0.8)
            df.sort_values("T0.agreement", ascending=False).head()
        """
        params = {"task": task, "answer": answer, "minAgreement": min_agreement, "maxAgreement": max_agreement, "retired": retired, "flagged": flagged}
        text = self._call("results_csv", ids={"id": self._id(collection)}, params=params, raw=True).content.decode("utf-8")
        if format == "auto":
            format = "pandas" if _has("pandas") else "astropy" if _has("astropy") else "rows"
        if format == "pandas":
            df = _tables.results_frame(text)
            if "ra" in df.columns and _has("astropy"):
                df.attrs["coord"] = _tables.sky_coords(df["ra"].to_numpy(dtype=float, na_value=float("nan")), df["dec"].to_numpy(dtype=float, na_value=float("nan")))
            return df
        if format == "astropy":
            t = _tables.results_table(text)
            if "ra" in t.colnames:
                t["coord"] = _tables.sky_coords(t["ra"], t["dec"])
            return t
        if format == "rows":
            return _tables.results_rows(text)[1]
        raise ValueError(f"results: format must be 'auto', 'pandas', 'astropy' or 'rows', not {format!r}")

    def results_status(self, collection: CollectionRef) -> Dict[str, Any]:
        """Where the results come from and how far they are: the pull from Zooniverse, the export backfill,
        classifications stored and subjects reduced."""
        return self._call("results_status", ids={"id": self._id(collection)})


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _progress_of(s: Status) -> tuple[int, int, str]:
    """One number for the bar: datasets converted + images judged + subjects linked, out of all of them."""
    up = s.uploads
    uploading = bool(up.get("uploading"))
    done = s.datasets_done + s.judged + (int(up.get("linked", 0)) if uploading else 0)
    total = s.datasets + s.image_count + (int(up.get("total", 0)) if uploading else 0)
    if not s.polled:
        return 0, 1, "waiting for the first look at the Butler collection"
    words = f"datasets {s.datasets_done}/{s.datasets} converted, images {s.judged}/{s.image_count} judged, {s.quarantined} in quarantine"
    if uploading:
        words += f", subjects {up.get('linked', 0)}/{up.get('total', 0)} linked"
    # Nothing found yet but still moving: an empty bar, not a full one.
    return done, total if total > 0 or s.settled else 1, words
