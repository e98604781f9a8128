"""Pagination of the list endpoints: ``?limit=&cursor=``, answered with ``next``.

``limit`` defaults to the ``page_size`` setting and may not exceed ``max_page_size``.
``cursor`` is opaque to clients: pass back the ``next`` of the previous page; ``next`` is
null on the last page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, current_app, jsonify, request

from .context import EXTENSION_KEY, to_json
from .errors import ApiError


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(422, "invalid_field", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def page(items: Sequence[Any], key: str, **extra: Any) -> Response:
    """``{key: items[cursor:cursor+limit], "next": cursor or null, **extra}``."""
    settings = current_app.extensions[EXTENSION_KEY]["settings"]
    limit = _int_arg("limit", min(settings.page_size, settings.max_page_size), 1, settings.max_page_size)
    start = _int_arg("cursor", 0, 0, 10**9)
    end = start + limit
    nxt = str(end) if end < len(items) else None
    return jsonify({key: to_json(list(items[start:end])), "next": nxt, **extra})
