"""Python client for the RSP-to-Zooniverse bridge.

From a Rubin Science Platform notebook::

    from rsp_zooniverse_bridge import Bridge
    bridge = Bridge()    # BRIDGE_URL and ACCESS_TOKEN from the notebook's environment
    c = bridge.register_collection("u/me/galaxy-cutouts", repository="dp02")
    bridge.status(c, watch=True)

See ``notebooks/getting-started.ipynb`` for the whole path from ``butler.put``
to the volunteers' results.
"""

from .client import Bridge
from .errors import (
    BridgeError,
    ConfigurationError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    ValidationError,
)
from .models import Collection, Preview, Status

__version__ = "0.1.0"

__all__ = [
    "Bridge",
    "BridgeError",
    "Collection",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Preview",
    "RateLimited",
    "Status",
    "Unauthenticated",
    "Unavailable",
    "Unprocessable",
    "ValidationError",
]
