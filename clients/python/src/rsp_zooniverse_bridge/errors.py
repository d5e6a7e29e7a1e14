"""Exceptions raised by the bridge client.

Every error the bridge answers is an RFC 9457 ``application/problem+json``
document; :class:`BridgeError` carries its fields so a notebook can show the
bridge's own words and react to the ``field`` it names::

    try:
        bridge.register_collection("u/me/cutouts", repository="dp02", bands=["q"])
    except ValidationError as e:
        print(e.field)    # 'bands.0'
        print(e.detail)   # 'bands.0: Invalid option: expected one of "u"|"g"|...'
"""

from __future__ import annotations

from typing import Any, Mapping, Optional


class BridgeError(Exception):
    """Base class: something the bridge refused, or could not be asked.

    Attributes:
        status: HTTP status (``None`` when the bridge was never reached).
        code: the bridge's stable error code, e.g. ``"validation_failed"``.
        title: short summary, e.g. ``"Invalid request"``.
        detail: the explanation in words.
        field: the request field at fault, when there is one (``"bands.0"``).
        issues: every field problem (``[{"field", "message"}]``) for validation errors.
        request_id: quote it when reporting a problem to the bridge's operators.
        body: the whole problem document.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        title: Optional[str] = None,
        detail: Optional[str] = None,
        field: Optional[str] = None,
        issues: Optional[list] = None,
        request_id: Optional[str] = None,
        body: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
        self.issues = issues or []
        self.request_id = request_id
        self.body = dict(body or {})


class ConfigurationError(BridgeError):
    """The client is missing its bridge URL or token (nothing was sent)."""


class ValidationError(BridgeError):
    """400: the request is invalid; ``field`` names the part at fault."""


class Unauthenticated(BridgeError):
    """401: the token is missing, expired or not accepted by the bridge."""


class Forbidden(BridgeError):
    """403: you may not do this (e.g. another PI's collection)."""


class NotFound(BridgeError):
    """404: no such collection, image or route."""


class Conflict(BridgeError):
    """409: already registered, or not in a state that allows this (e.g. a batch that has not failed)."""


class Unprocessable(BridgeError):
    """422: understood but cannot be done (e.g. the collection cannot be read, or Zooniverse refused)."""


class RateLimited(BridgeError):
    """429 after the client's retries: too many changes in the last minute."""


class Unavailable(BridgeError):
    """503 (after the client's retries), 5xx, or the bridge could not be reached."""


_BY_STATUS = {
    400: ValidationError,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: ValidationError,
    422: Unprocessable,
    429: RateLimited,
}


def error_for(status: int, body: Mapping[str, Any], fallback_text: str = "") -> BridgeError:
    """The exception for an HTTP error answer (``body``: the parsed problem+json, or ``{}``)."""
    cls = _BY_STATUS.get(status) or (Unavailable if status >= 500 else BridgeError)
    title = _str(body.get("title"))
    detail = _str(body.get("detail"))
    field = _str(body.get("field"))
    code = _str(body.get("code"))
    request_id = _str(body.get("requestId"))
    issues = body.get("issues") if isinstance(body.get("issues"), list) else []
    words = detail or title or fallback_text.strip()[:300] or "no explanation given"
    message = f"{title or 'HTTP error'} ({status}): {words}"
    if field and field not in words:
        message += f" [field: {field}]"
    if request_id:
        message += f" (request id {request_id})"
    return cls(message, status=status, code=code, title=title, detail=detail, field=field, issues=issues, request_id=request_id, body=body)


def _str(v: Any) -> Optional[str]:
    return v if isinstance(v, str) and v else None
