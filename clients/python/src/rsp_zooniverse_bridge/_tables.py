"""Tables in and out: a PI's metadata table to the bridge's CSV, results CSV to pandas / astropy / rows."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

# Results columns that are identifiers: kept as text (a 64-bit object id must not become a float).
_TEXT_COLUMNS = {"object_id", "collection", "dataset_ids", "image_id", "subject_id", "workflow_id", "swap_status", "retired_reason", "flags", "caesar_json"}


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    # numpy masked constant, pandas NA/NaT
    name = type(v).__name__
    if name in ("MaskedConstant", "NAType", "NaTType"):
        return True
    try:
        import numpy as np  # noqa: F401

        if isinstance(v, np.floating) and np.isnan(v):
            return True
    except ImportError:
        pass
    return False


def cell(v: Any) -> str:
    """One value as the bridge's table reader expects it: numbers exact, booleans as words, missing as empty."""
    if _is_missing(v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if bool(v) else "false"
    if isinstance(v, int) or type(v).__name__.startswith(("int", "uint")):
        return str(int(v))
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        return repr(float(v))
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def metadata_csv(table: Any, key: str = "object") -> str:
    """The PI's per-object table as the bridge's CSV: first column ``object``, then one column per metadata key.

    ``table`` is a pandas DataFrame, an astropy Table, a path to a CSV file, or a sequence of mappings;
    ``key`` names its column of object keys (a bridge image id, ``<dataset id>:<stamp index>`` or a stamp index).
    """
    columns, rows = _columns_and_rows(table)
    if key not in columns:
        raise ValueError(f"upload_metadata: the table has no column {key!r} to key the objects by (its columns: {', '.join(map(str, columns)) or 'none'}); pass key='<your id column>'")
    others = [c for c in columns if c != key]
    if not others:
        raise ValueError("upload_metadata: the table has no metadata columns besides the key column")
    rows = list(rows)
    for c in columns:
        for row in rows:
            v = row.get(c)
            # pandas turns an integer column with a gap into floats: 64-bit object ids are then already wrong.
            if isinstance(v, float) and not math.isnan(v) and v.is_integer() and abs(v) > 2**53:
                raise ValueError(f"upload_metadata: column {c!r} holds {v!r}, a float too large to be exact: these look like object ids that lost digits; keep the column as integers (pandas dtype 'Int64') or text")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["object", *others])
    for row in rows:
        w.writerow([cell(row.get(key)), *(cell(row.get(c)) for c in others)])
    return out.getvalue()


def _columns_and_rows(table: Any) -> tuple[list[str], Iterable[Mapping[str, Any]]]:
    if isinstance(table, (str, os.PathLike)):
        p = Path(table).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"upload_metadata: no such CSV file {str(p)!r}")
        with p.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = [dict(r) for r in reader]
            return list(reader.fieldnames or []), [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
    mod = type(table).__module__
    if mod.startswith("pandas") and hasattr(table, "to_dict"):
        df = table
        if df.index.name is not None and df.index.name not in df.columns:
            df = df.reset_index()
        return [str(c) for c in df.columns], [{str(k): v for k, v in r.items()} for r in df.to_dict(orient="records")]
    if mod.startswith("astropy") and hasattr(table, "colnames"):
        names = list(table.colnames)
        rows = []
        for r in table:
            rows.append({n: _astropy_value(r[n]) for n in names})
        return names, rows
    if isinstance(table, Sequence) and all(isinstance(r, Mapping) for r in table):
        names: list[str] = []
        for r in table:
            for k in r:
                if k not in names:
                    names.append(str(k))
        return names, list(table)
    raise TypeError(f"upload_metadata: expected a pandas DataFrame, an astropy Table, a CSV path or a list of dicts, not {type(table).__name__}")


def _astropy_value(v: Any) -> Any:
    if type(v).__name__ == "MaskedConstant":
        return None
    if hasattr(v, "unit") and hasattr(v, "value") and getattr(v, "unit", None) is not None:
        v = v.value  # a Quantity: the number (the unit belongs in the column name)
    if hasattr(v, "item"):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    return v


def _convert(name: str, raw: str) -> Any:
    if raw == "":
        return None
    if name in _TEXT_COLUMNS or name.endswith((".most_likely", ".clusters_json")):
        return raw
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def results_rows(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The results CSV as typed rows (identifiers as text, counts as int, fractions as float, flags as bool)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], []
    rows = [{h: _convert(h, v) for h, v in zip(header, line)} for line in reader if line]
    return header, rows


def results_frame(text: str) -> Any:
    import pandas as pd

    header, rows = results_rows(text)
    df = pd.DataFrame.from_records(rows, columns=header)
    for h in header:
        if h in _TEXT_COLUMNS or h.endswith((".most_likely", ".clusters_json")):
            continue
        vals = [r[h] for r in rows if r[h] is not None]
        if vals and all(isinstance(v, bool) for v in vals):
            df[h] = df[h].astype("boolean")
        elif vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            df[h] = df[h].astype("Int64")
        elif vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            df[h] = df[h].astype("float64")
    return df


def results_table(text: str) -> Any:
    from astropy.table import MaskedColumn, Table

    header, rows = results_rows(text)
    t = Table()
    for h in header:
        vals = [r[h] for r in rows]
        present = [v for v in vals if v is not None]
        if h in ("ra", "dec"):
            t[h] = [math.nan if v is None else float(v) for v in vals]
            t[h].unit = "deg"
            continue
        if present and all(isinstance(v, bool) for v in present):
            fill: Any = False
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            fill = 0 if all(isinstance(v, int) for v in present) else math.nan
        else:
            fill = ""
            vals = [None if v is None else str(v) for v in vals]
        mask = [v is None for v in vals]
        data = [fill if v is None else v for v in vals]
        t[h] = MaskedColumn(data, mask=mask) if any(mask) else data
    return t


def sky_coords(ra: Any, dec: Any) -> Optional[Any]:
    """RA/Dec (degrees, NaN where unknown) as one SkyCoord, or None without astropy."""
    try:
        import astropy.units as u
        from astropy.coordinates import SkyCoord
    except ImportError:
        return None
    import numpy as np

    return SkyCoord(ra=np.asarray(ra, dtype=float) * u.deg, dec=np.asarray(dec, dtype=float) * u.deg, frame="icrs")
