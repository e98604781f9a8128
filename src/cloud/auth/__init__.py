"""HTTP authentication of the cloud's API and dashboard (issue 13 item 3).

:func:`install_auth` puts ONE app-level guard in front of every route, so blueprints added
later are protected without per-route code:

* open to all: the login page (``auth.login``), static files and ``GET /api/health``
  (compose healthchecks);
* ``Authorization: Bearer <token>``: an API token (scripts, the demo seeder). No CSRF check
  (a browser never sends the header on its own), every change still audited;
* otherwise the Flask-Login session cookie (HttpOnly, SameSite=Strict, Secure when
  ``cookie_secure``). Every state-changing request must carry the CSRF token (form field
  ``csrf_token`` or header ``X-CSRFToken``), else 403;
* nobody: 401 JSON under ``/api/``, a redirect to the login page elsewhere;
* views marked :func:`admin_only` answer 403 to teachers;
* state-changing requests are rate limited per caller (429 + Retry-After) and audited.
"""

from __future__ import annotations

from .guard import admin_only, current_actor, install_auth

__all__ = ["admin_only", "current_actor", "install_auth"]
