"""DynamoDB attendance store: one table per kind of record, conditional writes
for idempotency (a sighting id is written once; its attendance update happens in
the same transaction).

Tables (``<prefix>`` + name; keys):

===============  ===========================  =====================================
students         student_id
faces            student_id, face_id
classrooms       classroom_id
sessions         session_id                   GSI by_classroom (classroom_id, starts_ms)
sightings        sighting_id                  (the idempotency record of each crop)
attendance       session_id, student_id       GSI by_student (student_id, session_id)
unknown_faces    unknown_id                   GSI by_status (status, seen_ms)
===============  ===========================  =====================================

The teacher tables (courses, rosters, slots, marks): :mod:`cloud.storage.teacher_dynamodb`.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ..errors import Conflict
from ..records import AttendanceRecord, Classroom, Enrolment, Session, Sighting, Student, UnknownFace
from .base import AttendanceStore
from .dynamodb_items import TABLES, T, is_conditional_failure, item_of, load_record, to_dynamo
from .teacher_dynamodb import TEACHER_TABLES, DynamoTeacherOps


class DynamoDBStore(DynamoTeacherOps, AttendanceStore):
    """Attendance data in DynamoDB tables (``resource`` = ``boto3.resource("dynamodb")``)."""

    def __init__(self, resource: Any, prefix: str = "rollcall-", create_tables: bool = True) -> None:
        self.resource = resource
        self.client = resource.meta.client
        self.prefix = prefix
        if create_tables:
            self.create_tables()
        self.t = {name: resource.Table(prefix + name) for name in (*TABLES, *TEACHER_TABLES)}

    # ------------------------------------------------------------ tables
    def create_tables(self) -> None:
        """Create any missing table (on-demand billing) and wait for it."""
        existing: set[str] = set()
        for page in self.client.get_paginator("list_tables").paginate():
            existing.update(page.get("TableNames", []))
        for name, spec in {**TABLES, **TEACHER_TABLES}.items():
            table_name = self.prefix + name
            if table_name in existing:
                continue
            attrs = dict(spec["keys"])
            key_schema = [{"AttributeName": spec["keys"][0][0], "KeyType": "HASH"}]
            if len(spec["keys"]) > 1:
                key_schema.append({"AttributeName": spec["keys"][1][0], "KeyType": "RANGE"})
            gsis = []
            for index, keys in spec.get("gsi", {}).items():
                attrs.update(dict(keys))
                gsis.append(
                    {
                        "IndexName": index,
                        "KeySchema": [
                            {"AttributeName": keys[0][0], "KeyType": "HASH"},
                            {"AttributeName": keys[1][0], "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                )
            params: dict[str, Any] = dict(
                TableName=table_name,
                KeySchema=key_schema,
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in attrs.items()],
                BillingMode="PAY_PER_REQUEST",
            )
            if gsis:
                params["GlobalSecondaryIndexes"] = gsis
            try:
                self.client.create_table(**params)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                    raise
            self.client.get_waiter("table_exists").wait(
                TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )

    # ------------------------------------------------------------ plumbing
    def _create(self, table: str, obj: Any, key: str, what: str) -> None:
        if not self._put_new(table, obj, key):
            raise Conflict(f"{what} already exists")

    def _get(self, table: str, cls: type[T], **key: str) -> T | None:
        item = self.t[table].get_item(Key=key, ConsistentRead=True).get("Item")
        return load_record(cls, item) if item else None

    def _scan(self, table: str, cls: type[T]) -> list[T]:
        out: list[T] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.t[table].scan(**kwargs)
            out.extend(load_record(cls, i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query(self, table: str, cls: type[T], condition: Any, index: str | None = None) -> list[T]:
        out: list[T] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        while True:
            page = self.t[table].query(**kwargs)
            out.extend(load_record(cls, i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _conditional_update(
        self,
        table: str,
        key: dict[str, Any],
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = dict(Key=key, UpdateExpression=update, ConditionExpression=condition)
        if values:  # DynamoDB refuses an empty ExpressionAttributeValues
            kwargs["ExpressionAttributeValues"] = to_dynamo(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self.t[table].update_item(**kwargs)
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    # ------------------------------------------------------------ students
    def create_student(self, student: Student) -> None:
        self._create("students", student, "student_id", f"student {student.student_id!r}")

    def get_student(self, student_id: str) -> Student | None:
        return self._get("students", Student, student_id=student_id)

    def list_students(self) -> list[Student]:
        return self._scan("students", Student)

    def update_student(self, student: Student) -> None:
        if student.email is None:
            update, values = "SET #n = :n REMOVE email", {":n": student.name}
        else:
            update, values = "SET #n = :n, email = :e", {":n": student.name, ":e": student.email}
        self._conditional_update(
            "students",
            {"student_id": student.student_id},
            update,
            "attribute_exists(student_id)",
            values,
            {"#n": "name"},
        )

    def delete_student(self, student_id: str) -> bool:
        for face in self.list_faces(student_id):
            self.delete_face(student_id, face.face_id)
        response = self.t["students"].delete_item(Key={"student_id": student_id}, ReturnValues="ALL_OLD")
        return "Attributes" in response

    # ------------------------------------------------------------ faces
    def add_face(self, face: Enrolment) -> None:
        self._create("faces", face, "face_id", f"face {face.face_id!r}")

    def list_faces(self, student_id: str) -> list[Enrolment]:
        return self._query("faces", Enrolment, Key("student_id").eq(student_id))

    def delete_face(self, student_id: str, face_id: str) -> bool:
        response = self.t["faces"].delete_item(
            Key={"student_id": student_id, "face_id": face_id}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    # ------------------------------------------------------------ classrooms
    def create_classroom(self, classroom: Classroom) -> None:
        self._create("classrooms", classroom, "classroom_id", f"classroom {classroom.classroom_id!r}")

    def get_classroom(self, classroom_id: str) -> Classroom | None:
        return self._get("classrooms", Classroom, classroom_id=classroom_id)

    def list_classrooms(self) -> list[Classroom]:
        return self._scan("classrooms", Classroom)

    # ------------------------------------------------------------ sessions
    def create_session(self, session: Session) -> None:
        self._create("sessions", session, "session_id", f"session {session.session_id!r}")

    def get_session(self, session_id: str) -> Session | None:
        return self._get("sessions", Session, session_id=session_id)

    def list_sessions(self, classroom_id: str | None = None) -> list[Session]:
        if classroom_id is None:
            return self._scan("sessions", Session)
        # GSI reads are eventually consistent; sessions change rarely and the
        # service re-reads a session by key before closing it.
        return self._query("sessions", Session, Key("classroom_id").eq(classroom_id), index="by_classroom")

    def set_session_closed(self, session_id: str, closed_ms: int) -> bool:
        return self._conditional_update(
            "sessions",
            {"session_id": session_id},
            "SET closed_ms = :t",
            "attribute_exists(session_id) AND attribute_not_exists(closed_ms)",
            {":t": closed_ms},
        )

    # ------------------------------------------------------------ attendance
    def record_sighting(self, sighting: Sighting) -> bool:
        # resource.meta.client (de)serialises plain Python values itself.
        key = {"session_id": sighting.session_id, "student_id": sighting.student_id}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.prefix + "sightings",
                            "Item": item_of(sighting),
                            "ConditionExpression": "attribute_not_exists(sighting_id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.prefix + "attendance",
                            "Key": key,
                            "UpdateExpression": "SET first_seen_ms = if_not_exists(first_seen_ms, :t), "
                            "last_seen_ms = if_not_exists(last_seen_ms, :t), "
                            "camera_id = if_not_exists(camera_id, :c) ADD sightings :one",
                            "ExpressionAttributeValues": {":t": sighting.seen_ms, ":c": sighting.camera_id, ":one": 1},
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if (
                exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"
                and reasons
                and reasons[0].get("Code") == "ConditionalCheckFailed"
            ):
                return False
            raise
        # Fold the rest in with conditional updates (each one is atomic on its own).
        t = sighting.seen_ms
        self._conditional_update("attendance", key, "SET last_seen_ms = :t", "last_seen_ms < :t", {":t": t})
        self._conditional_update(
            "attendance",
            key,
            "SET first_seen_ms = :t, camera_id = :c",
            "first_seen_ms > :t",
            {":t": t, ":c": sighting.camera_id},
        )
        if sighting.source_ms is not None:  # video position: min / max over the sightings that have one
            s = sighting.source_ms
            self._conditional_update(
                "attendance",
                key,
                "SET last_source_ms = :s",
                "attribute_not_exists(last_source_ms) OR last_source_ms < :s",
                {":s": s},
            )
            self._conditional_update(
                "attendance",
                key,
                "SET first_source_ms = :s",
                "attribute_not_exists(first_source_ms) OR first_source_ms > :s",
                {":s": s},
            )
        best: dict[str, Any] = {"evidence_ref": sighting.evidence_ref, "emotion": sighting.emotion}
        if sighting.similarity is not None:
            best["best_similarity"] = sighting.similarity
            sets = {k: v for k, v in best.items() if v is not None}
            values = {f":{k}": v for k, v in sets.items()}
            self._conditional_update(
                "attendance",
                key,
                "SET " + ", ".join(f"{k} = :{k}" for k in sets),
                "attribute_not_exists(best_similarity) OR best_similarity < :best_similarity",
                values,
            )
        elif sighting.evidence_ref is not None:
            self._conditional_update(
                "attendance",
                key,
                "SET evidence_ref = :e",
                "attribute_not_exists(evidence_ref)",
                {":e": sighting.evidence_ref},
            )
        return True

    def get_sighting(self, sighting_id: str) -> Sighting | None:
        return self._get("sightings", Sighting, sighting_id=sighting_id)

    def sightings_with_evidence(self, before_ms: int | None = None, student_id: str | None = None) -> list[Sighting]:
        # A scan: the purge runs hourly and erasure is rare; neither is on the crop path.
        return [
            s
            for s in self._scan("sightings", Sighting)
            if s.evidence_ref is not None
            and (before_ms is None or s.seen_ms < before_ms)
            and (student_id is None or s.student_id == student_id)
        ]

    def clear_sighting_evidence(self, sighting: Sighting) -> None:
        self._conditional_update(
            "sightings",
            {"sighting_id": sighting.sighting_id},
            "REMOVE evidence_ref",
            "attribute_exists(sighting_id)",
            {},
        )
        if sighting.evidence_ref is not None:
            self._conditional_update(
                "attendance",
                {"session_id": sighting.session_id, "student_id": sighting.student_id},
                "REMOVE evidence_ref",
                "evidence_ref = :e",
                {":e": sighting.evidence_ref},
            )

    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]:
        return self._query("attendance", AttendanceRecord, Key("session_id").eq(session_id))

    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]:
        return self._query("attendance", AttendanceRecord, Key("student_id").eq(student_id), index="by_student")

    # ------------------------------------------------------------ unknown faces
    def add_unknown(self, unknown: UnknownFace) -> bool:
        return self._put_new("unknown_faces", unknown, "unknown_id")

    def get_unknown(self, unknown_id: str) -> UnknownFace | None:
        return self._get("unknown_faces", UnknownFace, unknown_id=unknown_id)

    def list_unknown(self, status: str | None = "pending") -> list[UnknownFace]:
        if status is None:
            return self._scan("unknown_faces", UnknownFace)
        return self._query("unknown_faces", UnknownFace, Key("status").eq(status), index="by_status")

    def resolve_unknown(self, unknown_id: str, status: str, student_id: str | None, resolved_ms: int) -> bool:
        values: dict[str, Any] = {":s": status, ":p": "pending", ":r": resolved_ms}
        update = "SET #s = :s, resolved_ms = :r"
        if student_id is not None:
            update += ", student_id = :u"
            values[":u"] = student_id
        return self._conditional_update(
            "unknown_faces", {"unknown_id": unknown_id}, update, "#s = :p", values, {"#s": "status"}
        )

    def delete_unknown(self, unknown_id: str) -> bool:
        response = self.t["unknown_faces"].delete_item(Key={"unknown_id": unknown_id}, ReturnValues="ALL_OLD")
        return "Attributes" in response

    # ------------------------------------------------------------ housekeeping
    def ping(self) -> None:
        self.client.describe_table(TableName=self.prefix + "students")
