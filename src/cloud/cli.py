"""``rollcall-cloud``: the cloud tier's command line.

* ``serve`` (default): ZeroMQ ingest of face crops from the edge plus the HTTP
  API and dashboard (waitress) in one process; SIGTERM/SIGINT stop both cleanly.
* ``enrol-dir DIR``: create students and enrol their photos from
  ``DIR/<student_id>/<n>.jpg``.
* ``export-csv SESSION_ID``: print (or write) a session's attendance as CSV.
* ``create-admin USERNAME``, ``create-user USERNAME --role teacher|admin``: a dashboard
  account (password from a prompt, ``--password-stdin`` or ``--password-env NAME``).
* ``create-token NAME [--role]``: an API token for scripts, printed once (see cloud.auth).

Settings come from ``ROLLCALL_CLOUD_*`` / ``ROLLCALL_*`` environment variables
or the TOML file in ``ROLLCALL_CONFIG_FILE`` (see docs/dashboard.md, docs/cloud.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.logs import log_event, setup_logging
from common.settings import CommonSettings
from common.settings_base import ConfigError, load_settings

from .settings import CloudSettings

if TYPE_CHECKING:
    from .service import AttendanceService

log = logging.getLogger("rollcall.cloud.cli")

#: Photo files ``enrol-dir`` picks up.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def build_service(settings: CloudSettings, ensure_collection: bool = True) -> AttendanceService:
    """The AttendanceService for ``settings`` (a seam for tests)."""
    from .bootstrap import build_service as bootstrap_build

    return bootstrap_build(settings, ensure_collection=ensure_collection)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall-cloud",
        description="Rollcall cloud tier: face-crop ingest (ZeroMQ), recognition, attendance, HTTP API and dashboard.",
        epilog="Settings: ROLLCALL_CLOUD_* environment variables or [cloud] in ROLLCALL_CONFIG_FILE "
        "(python -m common.settings_base lists them all).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run ingest + HTTP API + dashboard (default)")
    serve.add_argument("--host", help="HTTP interface (default ROLLCALL_CLOUD_HTTP_HOST)")
    serve.add_argument("--port", type=int, help="HTTP port (default ROLLCALL_CLOUD_HTTP_PORT)")
    serve.add_argument("--zmq-bind", help="ZeroMQ ROUTER address (default ROLLCALL_CLOUD_ZMQ_BIND)")
    serve.add_argument("--no-ingest", action="store_true", help="serve HTTP only, do not bind the ZeroMQ ingest")

    enrol = commands.add_parser("enrol-dir", help="create students and enrol photos from DIR/<student_id>/<n>.jpg")
    enrol.add_argument("directory", type=Path, metavar="DIR")
    enrol.add_argument("--all", action="store_true", help="also enrol students who already have enrolled faces")

    export = commands.add_parser("export-csv", help="print a session's attendance as CSV")
    export.add_argument("session_id", metavar="SESSION_ID")
    export.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")

    from .auth.commands import add_parsers

    add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rollcall-cloud``; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments = ["serve", *arguments]  # serve is the default command
    args = _parser().parse_args(arguments)
    command = args.command
    try:
        common = load_settings(CommonSettings)
        settings = load_settings(CloudSettings)
    except ConfigError as exc:
        print(f"rollcall-cloud: {exc}", file=sys.stderr)
        return 2
    if command == "serve":
        return serve(
            settings, common, host=args.host, port=args.port, zmq_bind=args.zmq_bind, ingest=not args.no_ingest
        )
    _log_warnings_to_stderr()
    if command in ("create-admin", "create-user", "create-token"):
        from .auth.commands import run

        return run(args, settings)
    if command == "enrol-dir":
        return enrol_dir(build_service(settings), args.directory, include_enrolled=args.all)
    return export_csv(build_service(settings, ensure_collection=False), args.session_id, args.output)


def _log_warnings_to_stderr() -> None:
    """One-shot commands keep stdout for their output; problems go to stderr as JSON."""
    setup_logging("cloud", CommonSettings(log_level="WARNING", instance_id="cli"), stream=sys.stderr, to_file=False)


# --------------------------------------------------------------------------- serve
def serve(
    settings: CloudSettings,
    common: CommonSettings,
    host: str | None = None,
    port: int | None = None,
    zmq_bind: str | None = None,
    ingest: bool = True,
) -> int:
    """Run ingest + HTTP until SIGTERM/SIGINT; return the exit code."""
    from waitress.server import create_server

    from common.metrics import PeriodicReporter

    from .api.http_metrics import EXTENSION_KEY
    from .app import create_app
    from .ingest import IngestServer

    logger = setup_logging("cloud", common)
    service = build_service(settings)
    app = create_app(service=service, settings=settings)
    host = host or settings.http_host
    port = settings.http_port if port is None else port
    threads = settings.http_threads
    try:
        # Waitress buffers whole bodies before Flask sees them: cut absurd ones early, but leave
        # room so an upload just over the limit still gets Flask's JSON 413 rather than waitress's text one.
        body_limit = max(4 * int(app.config["MAX_CONTENT_LENGTH"]), 16 * 1024 * 1024)
        server = create_server(
            app, host=host, port=port, threads=threads, ident="rollcall", max_request_body_size=body_limit
        )
    except OSError as exc:
        log_event(logger, "http_bind_failed", level=logging.ERROR, host=host, port=port, detail=str(exc))
        _close_service(service)
        return 1

    ingest_server = None
    if ingest and service.crops.faces is not None:
        service.crops.faces.warm_up()  # the first crops of the day do not wait for the worker to start
    if ingest:
        try:
            ingest_server = IngestServer(service, settings, bind=zmq_bind).start()
        except Exception as exc:  # zmq.ZMQError: address in use, bad address...
            log_event(
                logger, "ingest_start_failed", level=logging.ERROR, bind=zmq_bind or settings.zmq_bind, detail=str(exc)
            )
            print(f"rollcall-cloud: cannot start the ingest: {exc}", file=sys.stderr)
            server.close()
            _close_service(service)
            return 1

    from .timetable import TimetableScheduler

    scheduler = TimetableScheduler(service.timetable).start()  # sessions of the weekly timetable
    http_metrics = app.extensions[EXTENSION_KEY]["http_metrics"]

    def extra() -> dict[str, Any]:
        figures: dict[str, Any] = {"http": http_metrics.snapshot()}
        if ingest_server is not None:
            figures["ingest"] = ingest_server.stats()
        return figures

    reporter = PeriodicReporter(service.stats, logger, common.metrics_interval_s, extra=extra).start()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log_event(logger, "shutdown_requested", signal=signal.Signals(signum).name)
        raise SystemExit(0)  # waitress's loop catches it and stops its worker threads

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log_event(
        logger,
        "http_started",
        url=f"http://{host}:{server.effective_port}/",
        threads=threads,
        ingest=ingest_server.bound_address if ingest_server else None,
    )
    started = time.monotonic()
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        if ingest_server is not None:
            ingest_server.stop()
        scheduler.stop()
        reporter.stop()  # logs a final metrics line
        _close_service(service)
        log_event(logger, "cloud_stopped", uptime_s=round(time.monotonic() - started, 1))
    return 0


def _close_service(service: AttendanceService) -> None:
    close = getattr(service, "close", None) or getattr(service.store, "close", None)
    if close is not None:
        try:
            close()
        except Exception as exc:  # already closed or broken: nothing left to do
            log_event(log, "service_close_failed", level=logging.WARNING, detail=str(exc)[:200])


# --------------------------------------------------------------------------- enrol-dir
def student_name_from_dir(dirname: str) -> str:
    """``guido_van_rossum`` -> ``Guido Van Rossum``."""
    words = dirname.replace("_", " ").replace("-", " ").replace(".", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or dirname


def enrol_dir(service: AttendanceService, directory: Path, include_enrolled: bool = False) -> int:
    """Create missing students and enrol every photo under ``directory/<student_id>/``.

    Students who already have enrolled faces are skipped unless ``include_enrolled``.
    Prints one line per photo; returns 0 if every photo was enrolled, 1 otherwise.
    """
    from .api.errors import ApiError
    from .api.uploads import check_image
    from .api.validation import require_id
    from .errors import CloudError, NotFound

    if not directory.is_dir():
        print(f"rollcall-cloud: {directory} is not a directory", file=sys.stderr)
        return 2
    enrolled = failed = skipped = 0
    student_dirs = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not student_dirs:
        print(f"rollcall-cloud: no <student_id>/ folders in {directory}", file=sys.stderr)
        return 2
    for folder in student_dirs:
        student_id = folder.name
        try:
            require_id(student_id, "student_id")
        except ApiError as exc:
            print(f"{student_id}: skipped, {exc.message}")
            failed += 1
            continue
        photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        try:
            service.get_student(student_id)
            if service.list_faces(student_id) and not include_enrolled:
                print(f"{student_id}: already enrolled, skipped ({len(photos)} photos; --all to add them)")
                skipped += len(photos)
                continue
        except NotFound:
            service.create_student(student_id, student_name_from_dir(student_id))
            print(f"{student_id}: created as {student_name_from_dir(student_id)!r}")
        if not photos:
            print(f"{student_id}: no .jpg/.jpeg/.png photos")
        for photo in photos:
            try:
                data = photo.read_bytes()
                check_image(data)
                face = service.enrol_photo(student_id, data)
            except ApiError as exc:
                print(f"{student_id}/{photo.name}: FAILED ({exc.message})")
                failed += 1
            except CloudError as exc:
                print(f"{student_id}/{photo.name}: FAILED ({exc.message})")
                failed += 1
            except OSError as exc:
                print(f"{student_id}/{photo.name}: FAILED (cannot read: {exc.strerror or exc})")
                failed += 1
            else:
                print(f"{student_id}/{photo.name}: enrolled as face {face.face_id}")
                enrolled += 1
    print(f"enrolled {enrolled} photo(s), {failed} failed, {skipped} skipped, {len(student_dirs)} student folder(s)")
    _close_service(service)
    return 0 if failed == 0 else 1


# --------------------------------------------------------------------------- export-csv
def export_csv(service: AttendanceService, session_id: str, output: Path | None = None) -> int:
    """Write the session's attendance CSV to ``output`` or stdout."""
    from .errors import CloudError

    try:
        text = service.export_csv(session_id)
    except CloudError as exc:
        print(f"rollcall-cloud: {exc.message}", file=sys.stderr)
        return 1
    finally:
        _close_service(service)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10)) - 1} attendance row(s) to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
