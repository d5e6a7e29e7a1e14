"""What the bridge answers, as small Python objects that show themselves well in Jupyter.

They keep the bridge's JSON as it came (``.data``), so a field the bridge adds
later is still there to read; the attributes are the fields a PI uses.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional


class Collection:
    """A registered collection (``GET /collections/{id}``).

    Example::

        c = bridge.register_collection("u/me/cutouts", repository="dp02")
        c.id, c.name, c.status        # ('2f03…', 'u/me/cutouts', 'active')
        c["zooniverseProjectId"]      # any field of the bridge's answer
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: Dict[str, Any] = dict(data)

    @property
    def id(self) -> str:
        """The collection's id (a UUID)."""
        return str(self.data["id"])

    @property
    def name(self) -> str:
        """The Butler run collection, ``u/<you>/...``."""
        return str(self.data["collection"])

    @property
    def status(self) -> Optional[str]:
        """``active``, ``paused`` or ``retired``."""
        return self.data.get("status")

    @property
    def counts(self) -> Dict[str, Dict[str, int]]:
        """``{'artifacts': {state: n}, 'images': {state: n}}`` (in answers to GET only)."""
        return self.data.get("counts") or {}

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, id={self.id!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(str(self.data.get(k)))}</td></tr>"
            for k in ("collection", "id", "repository", "dataRelease", "status", "rgb", "colour", "zooniverseProjectId", "uploadMode", "lastPolledAt", "lastPollError")
            if k in self.data
        )
        return f"<table>{rows}</table>"


@dataclass
class PreviewImage:
    preset: str
    width: int
    height: int
    png: Optional[bytes] = field(repr=False)
    error: Optional[str] = None


@dataclass
class PreviewStamp:
    index: int
    images: List[PreviewImage]


@dataclass
class Preview:
    """A few stamps of a collection rendered in every colour preset, before registering.

    In Jupyter the preview shows itself as a grid of images (one row per
    stamp, one column per preset); ``.stamps[i].images[j].png`` holds the
    PNG bytes.
    """

    collection: str
    presets: List[str]
    channels: List[str]
    stamps: List[PreviewStamp]
    data: Dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Preview":
        stamps = []
        for s in d.get("stamps", []):
            imgs = []
            for i in s.get("images", []):
                url = i.get("dataUrl")
                png = base64.b64decode(url.split(",", 1)[1]) if isinstance(url, str) and url.startswith("data:image/png;base64,") else None
                imgs.append(PreviewImage(preset=i.get("preset", ""), width=int(i.get("width") or 0), height=int(i.get("height") or 0), png=png, error=i.get("error")))
            stamps.append(PreviewStamp(index=int(s.get("index", 0)), images=imgs))
        return cls(collection=d.get("collection", ""), presets=list(d.get("presets", [])), channels=list(d.get("channels", [])), stamps=stamps, data=dict(d))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(p)}</th>" for p in self.presets)
        body = []
        for s in self.stamps:
            cells = []
            by_preset = {i.preset: i for i in s.images}
            for p in self.presets:
                i = by_preset.get(p)
                if i is None:
                    cells.append("<td></td>")
                elif i.png:
                    src = "data:image/png;base64," + base64.b64encode(i.png).decode("ascii")
                    cells.append(f"<td><img src='{src}' width='{i.width}' height='{i.height}' alt='stamp {s.index} in {html.escape(p)}'></td>")
                else:
                    cells.append(f"<td>{html.escape(i.error or 'not rendered')}</td>")
            body.append(f"<tr><th>stamp {s.index}</th>{''.join(cells)}</tr>")
        caption = f"{html.escape(self.collection)}: channels (R, G, B) = {html.escape(', '.join(self.channels))}"
        return f"<table><caption>{caption}</caption><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def __repr__(self) -> str:
        return f"<{self}>"

    def __str__(self) -> str:
        return f"Preview of {self.collection}: {len(self.stamps)} stamps x {len(self.presets)} presets ({', '.join(self.presets)})"


@dataclass
class Status:
    """Where a collection is: the Butler poll, conversion, the policy's and reviewers' verdicts, and uploads.

    ``str(status)`` is a short report in words; the parts are attributes.
    """

    collection: Collection
    artifacts: Dict[str, int]
    images: Dict[str, int]
    why: Dict[str, Any]
    uploads: Dict[str, Any]

    @property
    def polled(self) -> bool:
        """The bridge has looked at the Butler collection at least once."""
        return bool(self.collection.get("lastPolledAt"))

    @property
    def datasets(self) -> int:
        return sum(self.artifacts.values())

    @property
    def datasets_done(self) -> int:
        """Datasets converted or failed (nothing more will happen to them without a retry)."""
        return self.artifacts.get("converted", 0) + self.artifacts.get("failed", 0)

    @property
    def image_count(self) -> int:
        return sum(self.images.values())

    @property
    def judged(self) -> int:
        """Images the data-rights policy has given a verdict (or that failed)."""
        return sum(int(g.get("count", 0)) for g in self.why.get("groups", []))

    @property
    def quarantined(self) -> int:
        """Images in quarantine: stored privately, waiting for the policy or an EPO reviewer."""
        return self.images.get("quarantined", 0)

    @property
    def settled(self) -> bool:
        """Nothing is moving on the bridge's side: polled, converted, judged, uploads at rest.

        Images waiting for an EPO reviewer are settled as far as the bridge
        is concerned: a person acts next.
        """
        return self.polled and self.datasets_done == self.datasets and self.judged >= self.image_count and bool(self.uploads.get("settled", True))

    def next_steps(self) -> List[str]:
        return [f"{g.get('count')} image(s) {g.get('outcome', '').replace('_', ' ')}: {g.get('nextStep')}" for g in self.why.get("groups", []) if g.get("nextStep")]

    def __str__(self) -> str:
        lines = [f"{self.collection.name} ({self.collection.status})"]
        if not self.polled:
            lines.append("  waiting for the first look at the Butler collection")
        if self.collection.get("lastPollError"):
            lines.append(f"  last poll failed: {self.collection.get('lastPollError')}")
        lines.append(f"  datasets: {self.datasets_done} of {self.datasets} converted or failed{_fmt(self.artifacts)}")
        lines.append(f"  images: {self.image_count}{_fmt(self.images)}; {self.judged} judged by the data-rights policy")
        up = self.uploads
        if up.get("uploading"):
            lines.append(f"  Zooniverse project {up.get('zooniverseProjectId')}: {up.get('linked', 0)} of {up.get('total', 0)} subjects linked, {up.get('approved', 0)} approved images waiting to publish")
        else:
            lines.append("  not uploading to Zooniverse (no project set, or no Zooniverse credentials on this bridge): bridge.export(...) gives the approved images")
        lines += [f"  next: {s}" for s in self.next_steps()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(str(self)) + "</pre>"


def _fmt(counts: Mapping[str, int]) -> str:
    return " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""
