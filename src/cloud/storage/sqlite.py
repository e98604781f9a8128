"""SQLite attendance store (the default): one file, WAL mode, one lock."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..errors import Conflict
from ..records import AttendanceRecord, Classroom, Enrolment, Session, Sighting, Student, UnknownFace
from .base import AttendanceStore
from .teacher_sqlite import TEACHER_SCHEMA, SQLiteTeacherOps

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    student_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS faces (
    student_id TEXT NOT NULL, face_id TEXT NOT NULL, image_id TEXT, confidence REAL, bounding_box TEXT,
    photo_ref TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY (student_id, face_id));
CREATE TABLE IF NOT EXISTS classrooms (
    classroom_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_ms INTEGER NOT NULL, auto_created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, classroom_id TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,
    starts_ms INTEGER NOT NULL, ends_ms INTEGER, closed_ms INTEGER, scheduled INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_classroom ON sessions (classroom_id, starts_ms);
CREATE TABLE IF NOT EXISTS sightings (
    sighting_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, student_id TEXT NOT NULL, camera_id TEXT NOT NULL,
    seen_ms INTEGER NOT NULL, similarity REAL, evidence_ref TEXT, emotion TEXT, trace_id TEXT, face_id TEXT,
    source_ms INTEGER);
CREATE TABLE IF NOT EXISTS attendance (
    session_id TEXT NOT NULL, student_id TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
    camera_id TEXT NOT NULL, best_similarity REAL, evidence_ref TEXT, emotion TEXT, sightings INTEGER NOT NULL,
    first_source_ms INTEGER, last_source_ms INTEGER, PRIMARY KEY (session_id, student_id));
CREATE INDEX IF NOT EXISTS attendance_by_student ON attendance (student_id);
CREATE TABLE IF NOT EXISTS unknown_faces (
    unknown_id TEXT PRIMARY KEY, session_id TEXT, classroom_id TEXT NOT NULL, camera_id TEXT NOT NULL,
    seen_ms INTEGER NOT NULL, evidence_ref TEXT NOT NULL, status TEXT NOT NULL, student_id TEXT, trace_id TEXT,
    msg_id TEXT, reason TEXT NOT NULL, resolved_ms INTEGER);
CREATE INDEX IF NOT EXISTS unknown_by_status ON unknown_faces (status, seen_ms);
"""

# Columns added after the first release: (table, column, type). Databases created
# before them get them with ALTER TABLE when opened (existing rows read NULL).
MIGRATIONS = (
    ("sightings", "source_ms", "INTEGER"),
    ("attendance", "first_source_ms", "INTEGER"),
    ("attendance", "last_source_ms", "INTEGER"),
    ("sessions", "course_id", "TEXT"),
)

# Fold one sighting into the (session, student) record: earliest first seen (and
# its camera), latest last seen, best similarity (and its crop + emotion), and the
# earliest / latest video position among sightings that have one (NULLs ignored).
UPSERT_ATTENDANCE = """
INSERT INTO attendance (session_id, student_id, first_seen_ms, last_seen_ms, camera_id, best_similarity,
                        evidence_ref, emotion, sightings, first_source_ms, last_source_ms)
VALUES (:session_id, :student_id, :seen_ms, :seen_ms, :camera_id, :similarity, :evidence_ref, :emotion, 1,
        :source_ms, :source_ms)
ON CONFLICT (session_id, student_id) DO UPDATE SET
    first_source_ms = min(coalesce(first_source_ms, excluded.first_source_ms),
                          coalesce(excluded.first_source_ms, first_source_ms)),
    last_source_ms = max(coalesce(last_source_ms, excluded.last_source_ms),
                         coalesce(excluded.last_source_ms, last_source_ms)),
    camera_id = CASE WHEN excluded.first_seen_ms < first_seen_ms THEN excluded.camera_id ELSE camera_id END,
    first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
    last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
    evidence_ref = CASE WHEN coalesce(excluded.best_similarity, -1) > coalesce(best_similarity, -1)
                        OR evidence_ref IS NULL THEN excluded.evidence_ref ELSE evidence_ref END,
    emotion = CASE WHEN coalesce(excluded.best_similarity, -1) > coalesce(best_similarity, -1)
                   OR emotion IS NULL THEN excluded.emotion ELSE emotion END,
    best_similarity = CASE WHEN coalesce(excluded.best_similarity, -1) > coalesce(best_similarity, -1)
                           THEN excluded.best_similarity ELSE best_similarity END,
    sightings = sightings + 1
"""


def _row(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


class SQLiteStore(SQLiteTeacherOps, AttendanceStore):
    """All tables in one SQLite file (``:memory:`` works for tests)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = _row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)
        self._db.executescript(TEACHER_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns of :data:`MIGRATIONS` that an older database lacks."""
        with self._lock:
            for table, column, kind in MIGRATIONS:
                columns = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})").fetchall()}
                if column not in columns:
                    try:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it meanwhile
                        if "duplicate column" not in str(exc):
                            raise

    # ------------------------------------------------------------ plumbing
    def _all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _write(self, sql: str, params: Any = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _insert(self, sql: str, params: Any, what: str) -> None:
        try:
            self._write(sql, params)
        except sqlite3.IntegrityError:
            raise Conflict(f"{what} already exists") from None

    # ------------------------------------------------------------ students
    def create_student(self, student: Student) -> None:
        self._insert(
            "INSERT INTO students VALUES (:student_id, :name, :email, :created_ms)",
            student.to_dict(),
            f"student {student.student_id!r}",
        )

    def get_student(self, student_id: str) -> Student | None:
        row = self._one("SELECT * FROM students WHERE student_id = ?", (student_id,))
        return Student(**row) if row else None

    def list_students(self) -> list[Student]:
        return [Student(**r) for r in self._all("SELECT * FROM students ORDER BY student_id")]

    def update_student(self, student: Student) -> None:
        self._write(
            "UPDATE students SET name = :name, email = :email WHERE student_id = :student_id", student.to_dict()
        )

    def delete_student(self, student_id: str) -> bool:
        with self._lock:
            self._db.execute("DELETE FROM faces WHERE student_id = ?", (student_id,))
            return self._write("DELETE FROM students WHERE student_id = ?", (student_id,)) > 0

    # ------------------------------------------------------------ faces
    def add_face(self, face: Enrolment) -> None:
        params = face.to_dict()
        params["bounding_box"] = json.dumps(face.bounding_box) if face.bounding_box is not None else None
        self._insert(
            "INSERT INTO faces VALUES "
            "(:student_id, :face_id, :image_id, :confidence, :bounding_box, :photo_ref, :created_ms)",
            params,
            f"face {face.face_id!r}",
        )

    def list_faces(self, student_id: str) -> list[Enrolment]:
        rows = self._all("SELECT * FROM faces WHERE student_id = ? ORDER BY created_ms", (student_id,))
        for r in rows:
            r["bounding_box"] = json.loads(r["bounding_box"]) if r["bounding_box"] else None
        return [Enrolment(**r) for r in rows]

    def delete_face(self, student_id: str, face_id: str) -> bool:
        return self._write("DELETE FROM faces WHERE student_id = ? AND face_id = ?", (student_id, face_id)) > 0

    # ------------------------------------------------------------ classrooms
    def create_classroom(self, classroom: Classroom) -> None:
        self._insert(
            "INSERT INTO classrooms VALUES (:classroom_id, :name, :created_ms, :auto_created)",
            classroom.to_dict(),
            f"classroom {classroom.classroom_id!r}",
        )

    def get_classroom(self, classroom_id: str) -> Classroom | None:
        row = self._one("SELECT * FROM classrooms WHERE classroom_id = ?", (classroom_id,))
        return self._classroom(row) if row else None

    def list_classrooms(self) -> list[Classroom]:
        return [self._classroom(r) for r in self._all("SELECT * FROM classrooms ORDER BY classroom_id")]

    @staticmethod
    def _classroom(row: dict[str, Any]) -> Classroom:
        row["auto_created"] = bool(row["auto_created"])
        return Classroom(**row)

    # ------------------------------------------------------------ sessions
    def create_session(self, session: Session) -> None:
        params = session.to_dict()
        self._insert(
            "INSERT INTO sessions (session_id, classroom_id, name, created_ms, starts_ms, ends_ms, closed_ms,"
            " scheduled, course_id) VALUES (:session_id, :classroom_id, :name, :created_ms, :starts_ms, :ends_ms,"
            " :closed_ms, :scheduled, :course_id)",
            params,
            f"session {session.session_id!r}",
        )

    @staticmethod
    def _session(row: dict[str, Any]) -> Session:
        row["scheduled"] = bool(row["scheduled"])
        return Session(**row)

    def get_session(self, session_id: str) -> Session | None:
        row = self._one("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        return self._session(row) if row else None

    def list_sessions(self, classroom_id: str | None = None) -> list[Session]:
        if classroom_id is None:
            rows = self._all("SELECT * FROM sessions")
        else:
            rows = self._all("SELECT * FROM sessions WHERE classroom_id = ?", (classroom_id,))
        return [self._session(r) for r in rows]

    def set_session_closed(self, session_id: str, closed_ms: int) -> bool:
        return (
            self._write(
                "UPDATE sessions SET closed_ms = ? WHERE session_id = ? AND closed_ms IS NULL", (closed_ms, session_id)
            )
            > 0
        )

    # ------------------------------------------------------------ attendance
    def record_sighting(self, sighting: Sighting) -> bool:
        params = sighting.to_dict()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO sightings (sighting_id, session_id, student_id, camera_id, seen_ms,"
                    " similarity, evidence_ref, emotion, trace_id, face_id, source_ms) VALUES (:sighting_id,"
                    " :session_id, :student_id, :camera_id, :seen_ms, :similarity, :evidence_ref, :emotion,"
                    " :trace_id, :face_id, :source_ms)",
                    params,
                )
                if cursor.rowcount == 0:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute(UPSERT_ATTENDANCE, params)
                self._db.execute("COMMIT")
                return True
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get_sighting(self, sighting_id: str) -> Sighting | None:
        row = self._one("SELECT * FROM sightings WHERE sighting_id = ?", (sighting_id,))
        return Sighting(**row) if row else None

    def sightings_with_evidence(self, before_ms: int | None = None, student_id: str | None = None) -> list[Sighting]:
        sql, params = "SELECT * FROM sightings WHERE evidence_ref IS NOT NULL", list[Any]()
        if before_ms is not None:
            sql, params = sql + " AND seen_ms < ?", [*params, before_ms]
        if student_id is not None:
            sql, params = sql + " AND student_id = ?", [*params, student_id]
        return [Sighting(**r) for r in self._all(sql, params)]

    def clear_sighting_evidence(self, sighting: Sighting) -> None:
        with self._lock:
            self._db.execute("UPDATE sightings SET evidence_ref = NULL WHERE sighting_id = ?", (sighting.sighting_id,))
            if sighting.evidence_ref is not None:
                self._db.execute(
                    "UPDATE attendance SET evidence_ref = NULL WHERE session_id = ? AND student_id = ?"
                    " AND evidence_ref = ?",
                    (sighting.session_id, sighting.student_id, sighting.evidence_ref),
                )

    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]:
        rows = self._all("SELECT * FROM attendance WHERE session_id = ?", (session_id,))
        return [AttendanceRecord(**r) for r in rows]

    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]:
        rows = self._all("SELECT * FROM attendance WHERE student_id = ?", (student_id,))
        return [AttendanceRecord(**r) for r in rows]

    # ------------------------------------------------------------ unknown faces
    def add_unknown(self, unknown: UnknownFace) -> bool:
        return (
            self._write(
                "INSERT OR IGNORE INTO unknown_faces VALUES (:unknown_id, :session_id, :classroom_id, :camera_id,"
                " :seen_ms, :evidence_ref, :status, :student_id, :trace_id, :msg_id, :reason, :resolved_ms)",
                unknown.to_dict(),
            )
            > 0
        )

    def get_unknown(self, unknown_id: str) -> UnknownFace | None:
        row = self._one("SELECT * FROM unknown_faces WHERE unknown_id = ?", (unknown_id,))
        return UnknownFace(**row) if row else None

    def list_unknown(self, status: str | None = "pending") -> list[UnknownFace]:
        if status is None:
            rows = self._all("SELECT * FROM unknown_faces")
        else:
            rows = self._all("SELECT * FROM unknown_faces WHERE status = ?", (status,))
        return [UnknownFace(**r) for r in rows]

    def resolve_unknown(self, unknown_id: str, status: str, student_id: str | None, resolved_ms: int) -> bool:
        return (
            self._write(
                "UPDATE unknown_faces SET status = ?, student_id = ?, resolved_ms = ? "
                "WHERE unknown_id = ? AND status = 'pending'",
                (status, student_id, resolved_ms, unknown_id),
            )
            > 0
        )

    def delete_unknown(self, unknown_id: str) -> bool:
        return self._write("DELETE FROM unknown_faces WHERE unknown_id = ?", (unknown_id,)) > 0

    # ------------------------------------------------------------ housekeeping
    def ping(self) -> None:
        self._one("SELECT 1 AS ok")

    def close(self) -> None:
        with self._lock:
            self._db.close()
