"""DynamoDB tables and operations of :class:`cloud.storage.teacher_base.TeacherStore`
(mixed into :class:`cloud.storage.dynamodb.DynamoDBStore`).

===================  ===========================  =======================================
courses              course_id
course_members       course_id, student_id        GSI by_student (student_id, course_id)
timetable_slots      slot_id
attendance_marks     session_id, mark_id
===================  ===========================  =======================================
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ..errors import Conflict
from ..teacher_records import AttendanceMark, Course, CourseMember, TimetableSlot
from .dynamodb_items import T, is_conditional_failure, item_of, load_record
from .teacher_base import TeacherStore

TEACHER_TABLES: dict[str, dict[str, Any]] = {
    "courses": {"keys": [("course_id", "S")]},
    "course_members": {
        "keys": [("course_id", "S"), ("student_id", "S")],
        "gsi": {"by_student": [("student_id", "S"), ("course_id", "S")]},
    },
    "timetable_slots": {"keys": [("slot_id", "S")]},
    "attendance_marks": {"keys": [("session_id", "S"), ("mark_id", "S")]},
}


class DynamoTeacherOps(TeacherStore):
    """Courses, rosters, slots and marks in DynamoDB tables."""

    t: dict[str, Any]

    def _put_new(self, table: str, obj: Any, key: str) -> bool:
        """Put ``obj`` unless an item with its ``key`` exists; False when it does."""
        try:
            self.t[table].put_item(
                Item=item_of(obj), ConditionExpression="attribute_not_exists(#k)", ExpressionAttributeNames={"#k": key}
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def _items(self, table: str, cls: type[T], condition: Any = None, index: str | None = None) -> list[T]:
        out: list[T] = []
        kwargs: dict[str, Any] = {}
        if condition is not None:
            kwargs["KeyConditionExpression"] = condition
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        call = self.t[table].query if condition is not None else self.t[table].scan
        while True:
            page = call(**kwargs)
            out.extend(load_record(cls, i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, table: str, **key: str) -> bool:
        return "Attributes" in self.t[table].delete_item(Key=key, ReturnValues="ALL_OLD")

    # ------------------------------------------------------------ courses
    def create_course(self, course: Course) -> None:
        if not self._put_new("courses", course, "course_id"):
            raise Conflict(f"course {course.course_id!r} already exists")

    def get_course(self, course_id: str) -> Course | None:
        item = self.t["courses"].get_item(Key={"course_id": course_id}, ConsistentRead=True).get("Item")
        return load_record(Course, item) if item else None

    def list_courses(self) -> list[Course]:
        return sorted(self._items("courses", Course), key=lambda c: c.course_id)

    def update_course(self, course: Course) -> bool:
        if course.classroom_id is None:
            update, values = "SET #n = :n REMOVE classroom_id", {":n": course.name}
        else:
            update, values = "SET #n = :n, classroom_id = :c", {":n": course.name, ":c": course.classroom_id}
        try:
            self.t["courses"].update_item(
                Key={"course_id": course.course_id},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(course_id)",
                ExpressionAttributeValues=values,
                ExpressionAttributeNames={"#n": "name"},
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def delete_course(self, course_id: str) -> bool:
        for member in self.list_members(course_id, include_removed=True):
            self._delete("course_members", course_id=course_id, student_id=member.student_id)
        for slot in self.list_slots(course_id):
            self.delete_slot(slot.slot_id)
        return self._delete("courses", course_id=course_id)

    # ------------------------------------------------------------ rosters
    def _update_member(self, key: dict[str, str], update: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self.t["course_members"].update_item(
                Key=key, UpdateExpression=update, ConditionExpression=condition, ExpressionAttributeValues=values
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def add_member(self, member: CourseMember) -> bool:
        return self._update_member(
            {"course_id": member.course_id, "student_id": member.student_id},
            "SET added_ms = if_not_exists(added_ms, :a) REMOVE removed_ms",
            "attribute_not_exists(student_id) OR attribute_exists(removed_ms)",
            {":a": member.added_ms},
        )

    def remove_member(self, course_id: str, student_id: str, removed_ms: int) -> bool:
        return self._update_member(
            {"course_id": course_id, "student_id": student_id},
            "SET removed_ms = :r",
            "attribute_exists(student_id) AND attribute_not_exists(removed_ms)",
            {":r": removed_ms},
        )

    def list_members(self, course_id: str, include_removed: bool = False) -> list[CourseMember]:
        members = self._items("course_members", CourseMember, Key("course_id").eq(course_id))
        return sorted((m for m in members if include_removed or m.removed_ms is None), key=lambda m: m.student_id)

    def courses_of_student(self, student_id: str) -> list[CourseMember]:
        members = self._items("course_members", CourseMember, Key("student_id").eq(student_id), index="by_student")
        return sorted(members, key=lambda m: m.course_id)

    # ------------------------------------------------------------ timetable
    def add_slot(self, slot: TimetableSlot) -> None:
        if not self._put_new("timetable_slots", slot, "slot_id"):
            raise Conflict(f"timetable slot {slot.slot_id!r} already exists")

    def list_slots(self, course_id: str | None = None) -> list[TimetableSlot]:
        # A scan: a school has a few hundred slots, read once a scheduler pass.
        slots = self._items("timetable_slots", TimetableSlot)
        return [s for s in slots if course_id is None or s.course_id == course_id]

    def delete_slot(self, slot_id: str) -> bool:
        return self._delete("timetable_slots", slot_id=slot_id)

    # ------------------------------------------------------------ marks
    def add_mark(self, mark: AttendanceMark) -> bool:
        return self._put_new("attendance_marks", mark, "mark_id")

    def marks_for_session(self, session_id: str) -> list[AttendanceMark]:
        marks = self._items("attendance_marks", AttendanceMark, Key("session_id").eq(session_id))
        return sorted(marks, key=lambda m: (m.marked_ms, m.mark_id))
