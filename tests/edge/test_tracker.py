import itertools

import numpy as np
import pytest

from edge.appearance import APPEARANCE_SPLIT_DISTANCE, SCENE_CUT_DIFF, colour_signature, signature_distance
from edge.tracker import EVIDENCE_REASON, Candidate, CropPolicy, IouTracker, TrackRegistry, iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert round(iou((0, 0, 10, 10), (5, 0, 15, 10)), 3) == round(50 / 150, 3)


def test_people_keep_their_track_ids_across_frames():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    first, _ = tracker.update([(0, 0, 50, 100), (200, 0, 250, 100)], now_ms=0)
    # Both moved a little, and come in the other order.
    second, _ = tracker.update([(205, 2, 255, 102), (3, 1, 53, 101)], now_ms=100)
    assert [t.track_id for t in first] == [1, 2]
    assert [t.track_id for t in second] == [2, 1]
    assert second[0].hits == 2


def test_fast_mover_matched_by_centre_and_stranger_gets_new_track():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    (a,), _ = tracker.update([(0, 0, 40, 100)], now_ms=0)
    (moved, new), _ = tracker.update([(30, 0, 70, 100), (400, 0, 440, 100)], now_ms=100)  # IoU 0.14
    assert moved.track_id == a.track_id and new.track_id != a.track_id


def test_tracks_expire_after_ttl():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    tracker.update([(0, 0, 50, 100)], now_ms=0)
    _, expired = tracker.update([], now_ms=999)
    assert expired == [] and len(tracker.tracks) == 1
    _, expired = tracker.update([], now_ms=1001)
    assert [t.track_id for t in expired] == [1] and tracker.tracks == {}
    (again,), _ = tracker.update([(0, 0, 50, 100)], now_ms=1100)
    assert again.track_id == 2


def test_camera_time_going_backwards_expires_every_track():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    tracker.update([(0, 0, 50, 100)], now_ms=50_000)
    (again,), expired = tracker.update([(0, 0, 50, 100)], now_ms=100)  # the camera's stream restarted
    assert [t.track_id for t in expired] == [1] and again.track_id == 2


def red_and_blue():
    """Colour signatures of a red and a blue patch (Bhattacharyya distance 1)."""
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = (0, 0, 255)
    frame[:, 100:] = (255, 0, 0)
    return colour_signature(frame, (0, 0, 100, 100)), colour_signature(frame, (100, 0, 200, 100))


def test_same_box_with_other_colours_splits_the_track():
    red, blue = red_and_blue()
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    (first,), ended = tracker.update([(0, 0, 50, 100)], now_ms=0, signatures=[red])
    (same,), ended = tracker.update([(0, 0, 50, 100)], now_ms=100, signatures=[red])
    assert same is first and ended == [] and tracker.splits == 0
    # Another person steps into exactly the same place.
    (other,), ended = tracker.update([(0, 0, 50, 100)], now_ms=200, signatures=[blue])
    assert other.track_id != first.track_id and other.hits == 1
    assert ended == [first] and tracker.splits == 1
    assert set(tracker.tracks) == {other.track_id}
    assert signature_distance(other.signature, blue) == pytest.approx(0.0, abs=1e-6)  # starts from its own colours
    (again,), ended = tracker.update([(2, 0, 52, 100)], now_ms=300, signatures=[blue])
    assert again is other and ended == []


def test_a_split_needs_a_distance_above_the_threshold():
    red, blue = red_and_blue()
    purple = 0.5 * red + 0.5 * blue  # Bhattacharyya distance to red about 0.54
    distance = signature_distance(red, purple)
    strict = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1), split_distance=distance - 0.05)
    lenient = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1), split_distance=distance + 0.05)
    for tracker, splits in ((strict, 1), (lenient, 0)):
        (a,), _ = tracker.update([(0, 0, 50, 100)], now_ms=0, signatures=[red])
        (b,), ended = tracker.update([(0, 0, 50, 100)], now_ms=100, signatures=[purple])
        assert tracker.splits == splits and (b is a) == (splits == 0) and len(ended) == splits


def test_without_signatures_a_track_never_splits():
    red, blue = red_and_blue()
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    (a,), _ = tracker.update([(0, 0, 50, 100)], now_ms=0, signatures=[red])
    (b,), _ = tracker.update([(0, 0, 50, 100)], now_ms=100)  # no signatures at all
    (c,), _ = tracker.update([(0, 0, 50, 100)], now_ms=200, signatures=[None])  # box too small to measure
    assert a is b is c and tracker.splits == 0
    (d,), _ = tracker.update([(0, 0, 50, 100)], now_ms=300, signatures=[blue])
    assert d is not a


def test_a_split_of_one_person_leaves_the_others_alone():
    red, blue = red_and_blue()
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    (a, b), _ = tracker.update([(0, 0, 50, 100), (200, 0, 250, 100)], now_ms=0, signatures=[red, red])
    (a2, b2), ended = tracker.update([(0, 0, 50, 100), (200, 0, 250, 100)], now_ms=100, signatures=[red, blue])
    assert a2 is a and b2 is not b and ended == [b]
    assert set(tracker.tracks) == {a.track_id, b2.track_id}


def test_end_all_ends_every_track_and_ids_go_on():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    tracks, _ = tracker.update([(0, 0, 50, 100), (200, 0, 250, 100)], now_ms=0)
    assert sorted(t.track_id for t in tracker.end_all()) == [t.track_id for t in tracks]
    assert tracker.tracks == {} and tracker.end_all() == []
    (fresh,), ended = tracker.update([(0, 0, 50, 100)], now_ms=100)
    assert fresh.track_id == 3 and ended == []  # nothing left to expire


def test_registry_trackers_use_its_split_distance_and_scene_cut_threshold():
    registry = TrackRegistry(0.3, 5000, split_distance=0.45, scene_cut_diff=25.0)
    with registry.lock:
        tracker = registry.tracker("cam")
    assert tracker.split_distance == 0.45 and tracker.scene.threshold == 25.0
    assert registry.tracker("cam") is tracker and registry.tracker("other") is not tracker
    assert registry.tracker("other").scene is not tracker.scene  # one scene memory per camera
    default = TrackRegistry(0.3, 5000).tracker("cam")
    assert default.split_distance == APPEARANCE_SPLIT_DISTANCE and default.scene.threshold == SCENE_CUT_DIFF


# --- crop policy ------------------------------------------------------------------------------


class Cam:
    """One track of one camera, the policy, and the cloud's answers through the registry."""

    def __init__(self, **policy):
        self.policy = CropPolicy(**policy)
        self.registry = TrackRegistry(0.3, 60_000)
        with self.registry.lock:
            (self.track,), _ = self.registry.tracker("cam").update([(0, 0, 50, 100)], 0)

    def offer(self, quality, now):
        """Offer a crop of ``quality`` at ``now``; a SEND is sent. Returns (decision, payload sent)."""
        candidate = Candidate(quality=quality, payload=f"q{quality}@{now}")
        decision, chosen = self.policy.offer(self.track, candidate, now)
        if decision == CropPolicy.SEND:
            CropPolicy.sent(self.track, chosen, now)
            return decision, chosen.payload
        assert chosen is None
        return decision, None

    def answer(self, status, reason=None):
        assert self.registry.apply_result("cam", self.track.track_id, status, reason)

    def first_send_at(self, start, quality=1.0, step=100, until=60_000):
        """Offer a crop every ``step`` ms from ``start``; the time of the first one sent."""
        for now in range(start, until, step):
            if self.offer(quality, now)[0] == CropPolicy.SEND:
                return now
        return None


def test_defaults_of_the_policy():
    policy = CropPolicy()
    assert (policy.retry_interval_ms, policy.max_crops, policy.max_attempts, policy.result_timeout_ms) == (1000, 8, 4, 5000)
    assert CropPolicy(max_crops=2, max_attempts=4).max_attempts == 2  # never more attempts than crops


def test_first_crop_goes_at_once_and_a_pending_crop_holds_everything():
    cam = Cam()
    assert cam.offer(10, 0) == ("send", "q10@0")
    assert cam.track.pending and cam.track.crops_sent == 1 and cam.track.last_sent_ms == 0
    # No RESULT yet: nothing goes out, however good and however late (within the result timeout).
    assert [cam.offer(q, t)[0] for q, t in ((30, 300), (20, 1500), (90, 4999))] == ["hold"] * 3
    assert cam.track.crops_sent == 1 and cam.track.candidate.quality == 90  # the best kept for later


def test_after_unknown_the_best_crop_since_goes_after_one_second():
    cam = Cam()
    cam.offer(10, 0)
    assert cam.offer(30, 300)[0] == "hold"
    assert cam.offer(20, 600)[0] == "hold"
    cam.answer("unknown")
    assert not cam.track.pending and cam.track.unknowns == 1
    assert cam.offer(25, 900) == ("hold", None)  # 900 ms since the last send
    assert cam.offer(12, 1000) == ("send", "q30@300")  # the best one seen since, not this frame's
    assert cam.track.crops_sent == 2 and cam.track.best_sent_quality == 30 and cam.track.candidate is None


def test_no_face_counts_like_unknown():
    cam = Cam()
    cam.offer(10, 0)
    cam.answer("no_face")
    assert cam.track.unknowns == 1
    assert cam.first_send_at(100) == 1000


def test_the_wait_doubles_after_each_unknown_up_to_eight_seconds():
    cam = Cam(max_attempts=8, max_crops=8)
    sends = [0]
    cam.offer(1, 0)
    for _ in range(6):
        cam.answer("unknown")
        sends.append(cam.first_send_at(sends[-1] + 100))
    gaps = [b - a for a, b in zip(sends, sends[1:])]
    assert gaps == [1000, 2000, 4000, 8000, 8000, 8000]


def test_unconfirmed_is_retried_after_half_a_second_and_errors_after_one_without_doubling():
    cam = Cam(max_attempts=8, max_crops=8)
    cam.offer(1, 0)
    cam.answer("unknown")
    sent = cam.first_send_at(100)
    assert sent == 1000
    cam.answer("unknown")  # the second unknown: the next wait would be 2 s ...
    sent2 = cam.first_send_at(sent + 100)
    assert sent2 == sent + 2000
    cam.answer("unknown", "unconfirmed")  # ... but an unconfirmed match wants a second look soon
    sent3 = cam.first_send_at(sent2 + 100)
    assert sent3 == sent2 + 500
    assert cam.track.unknowns == 2  # an unconfirmed match is no unknown: it does not double later waits
    cam.answer("error")  # a cloud error: try again soon as well
    sent4 = cam.first_send_at(sent3 + 100)
    assert sent4 == sent3 + 1000
    cam.answer("error")
    assert cam.first_send_at(sent4 + 100) == sent4 + 1000  # errors never double the wait


def test_after_max_attempts_only_a_clearly_better_crop_goes():
    cam = Cam(max_attempts=4, max_crops=8)
    now = 0
    cam.offer(10, now)
    for _ in range(3):  # attempts 2-4 with the same quality
        cam.answer("unknown")
        now = cam.first_send_at(now + 100, quality=10)
    assert cam.track.crops_sent == 4 and cam.track.best_sent_quality == 10
    cam.answer("unknown")
    wait = cam.policy.retry_wait_ms(cam.track)
    assert wait == 8000
    later = now + wait
    assert cam.offer(12.4, later) == ("hold", None)  # 24 % better: not enough
    assert cam.offer(12.0, later + 100) == ("hold", None)
    assert cam.offer(12.5, later + 200) == ("send", f"q12.5@{later + 200}")  # 25 % better
    assert cam.track.crops_sent == 5 and cam.track.best_sent_quality == 12.5
    cam.answer("unknown")
    assert cam.first_send_at(later + 300, quality=15, until=later + 60_000) is None  # the bar is now 15.625
    assert cam.offer(16, later + 60_000)[0] == "send"


def test_max_crops_caps_every_track():
    cam = Cam(max_attempts=2, max_crops=3)
    now, quality = 0, 1.0
    cam.offer(quality, now)
    sent = 1
    for _ in range(10):
        cam.answer("error")
        quality *= 2  # always clearly better
        got = cam.first_send_at(now + 100, quality=quality, until=now + 20_000)
        if got is None:
            break
        now, sent = got, sent + 1
    assert sent == 3 and cam.track.crops_sent == 3
    assert cam.offer(1000, now + 30_000) == ("suppress", None)


def test_recognised_stops_every_further_crop():
    cam = Cam()
    cam.offer(10, 0)
    cam.offer(50, 500)  # kept as the next candidate
    cam.answer("recognised")
    assert cam.track.recognised and cam.track.candidate is None and cam.registry.recognised_tracks == 1
    assert [cam.offer(100 * i, 1000 * i)[0] for i in range(1, 20)] == ["suppress"] * 19
    cam.answer("unknown")  # a late RESULT of an older crop changes nothing
    assert cam.offer(1000, 30_000)[0] == "suppress" and cam.registry.recognised_tracks == 1


def test_results_for_unknown_tracks_and_cameras_are_ignored():
    cam = Cam()
    cam.offer(10, 0)
    assert not cam.registry.apply_result("cam", 999, "recognised")
    assert not cam.registry.apply_result("other-cam", cam.track.track_id, "recognised")
    assert cam.track.pending and not cam.track.recognised


def test_the_answer_to_an_evidence_crop_changes_nothing():
    cam = Cam()
    cam.offer(10, 0)  # a recognition crop is pending
    assert cam.registry.apply_result("cam", cam.track.track_id, "unknown", EVIDENCE_REASON)
    track = cam.track
    assert track.pending and track.unknowns == 0 and track.last_status is None and track.last_reason is None
    assert cam.offer(20, 2000) == ("hold", None)  # still waiting for the real RESULT
    cam.answer("unknown")
    assert track.unknowns == 1 and cam.first_send_at(2100, quality=20) == 2100  # 1 s after the send at 0


def test_a_result_that_never_comes_frees_the_track_after_the_timeout():
    cam = Cam(result_timeout_ms=5000)
    cam.offer(10, 0)
    assert cam.offer(20, 2000) == ("hold", None)
    assert cam.offer(15, 4999) == ("hold", None)
    assert cam.offer(12, 5000) == ("send", "q20@2000")  # the lost crop's successor: the best since
    assert cam.track.pending and cam.track.crops_sent == 2 and cam.track.unknowns == 0
    assert cam.offer(30, 9999) == ("hold", None)  # the new crop waits for its own RESULT again
    cam.answer("unknown")
    assert cam.offer(30, 10_000)[0] == "send"


def test_cameras_that_vanish_without_end_of_stream_are_forgotten():
    clock = [0.0]
    registry = TrackRegistry(0.3, 5000, idle_camera_s=600, monotonic=lambda: clock[0])
    with registry.lock:
        registry.tracker("gone").update([(0, 0, 50, 100), (100, 0, 150, 100)], 0)
        registry.tracker("live").update([(0, 0, 50, 100)], 0)
    clock[0] = 590.0
    with registry.lock:
        registry.tracker("live").update([(0, 0, 50, 100)], 590_000)
    assert registry.active_tracks() == 3 and registry.cameras_forgotten == 0
    clock[0] = 660.0  # "gone" idle for > 600 s (and the check, every 60 s, is due), "live" for 70 s
    assert registry.active_tracks() == 1 and registry.cameras_forgotten == 1
    assert not registry.apply_result("gone", 1, "recognised")
    with registry.lock:  # a camera that comes back starts afresh
        (track,), _ = registry.tracker("gone").update([(0, 0, 50, 100)], 660_000)
    assert track.track_id == 5  # ids never repeat (4 went to "live" after its own ttl)


def test_a_late_result_for_an_older_crop_does_not_free_the_pending_one():
    registry = TrackRegistry(0.3, 5000)
    with registry.lock:
        (track,), _ = registry.tracker("cam").update([(0, 0, 50, 100)], 0)
    CropPolicy.sent(track, Candidate(1.0, "c1"), 0, "crop-1")
    CropPolicy.sent(track, Candidate(1.0, "c2"), 6000, "crop-2")  # crop-1's RESULT was given up on
    assert registry.apply_result("cam", track.track_id, "unknown", "no_match", ack_of="crop-1")
    assert track.pending and track.pending_msg_id == "crop-2" and track.unknowns == 0
    assert registry.apply_result("cam", track.track_id, "unknown", "no_match", ack_of="crop-2")
    assert not track.pending and track.unknowns == 1
    # A late "recognised" still counts: the student was recognised, whatever crop said so.
    CropPolicy.sent(track, Candidate(1.0, "c3"), 7000, "crop-3")
    registry.apply_result("cam", track.track_id, "recognised", None, ack_of="crop-1")
    assert track.recognised


def test_100k_camera_ids_stay_bounded():
    clock = [0.0]
    registry = TrackRegistry(0.3, 5000, monotonic=lambda: clock[0], max_cameras=64)
    for i in range(100_000):
        clock[0] += 0.001  # 100 s in all: nobody is idle for 600 s, only the bound forgets
        with registry.lock:
            registry.tracker(f"cam-{i}").update([(0, 0, 50, 100)], i)
    assert registry.cameras() == 64 and len(registry._last_used) == 64
    assert registry.cameras_forgotten == 100_000 - 64
    assert registry.active_tracks() == 64
    with registry.lock:  # the newest cameras are the ones kept
        assert registry.tracker("cam-99999").tracks
    clock[0] += 601  # and all of them go once idle
    assert registry.active_tracks() == 0 and registry.cameras() == 0


def test_a_face_keeps_its_track_when_a_person_box_takes_it_over():
    """Frame 1 has no person box yet (a face-derived box); frame 2's person box holds the same face:
    the same track, although the boxes barely overlap and the colour signature's region changed."""
    red, blue = red_and_blue()
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    face = (100, 40, 140, 90)
    (first,), _ = tracker.update([(60, 15, 180, 190)], 0, [red], faces=[face], from_face=[True])
    (second,), ended = tracker.update(
        [(20, 30, 220, 700)], 500, [blue], faces=[(103, 42, 143, 92)], from_face=[False]
    )
    assert second.track_id == first.track_id and ended == []
    assert second.box_from_face is False and second.face_box == (103, 42, 143, 92)
    # From now on the signature is the person box's: another colour in that box still splits.
    (third,), ended = tracker.update([(20, 30, 220, 700)], 1000, [red], faces=[(103, 42, 143, 92)], from_face=[False])
    assert third.track_id != first.track_id and [t.track_id for t in ended] == [first.track_id]


def test_a_face_far_from_the_tracks_face_starts_a_new_track():
    tracker = IouTracker(0.3, ttl_ms=1000, ids=itertools.count(1))
    (first,), _ = tracker.update([(60, 15, 180, 190)], 0, faces=[(100, 40, 140, 90)], from_face=[True])
    (second,), _ = tracker.update([(400, 30, 600, 700)], 500, faces=[(480, 40, 520, 90)], from_face=[False])
    assert second.track_id != first.track_id


def test_after_a_gap_a_change_of_box_kind_gets_no_signature_exemption():
    """Someone else where a track's face was, after frames without that track: the colour
    signature still decides (here: split), the face position alone never continues the track."""
    red, blue = red_and_blue()
    tracker = IouTracker(0.3, ttl_ms=5000, ids=itertools.count(1))
    (first,), _ = tracker.update([(20, 30, 220, 700)], 0, [red], faces=[(100, 40, 140, 90)], from_face=[False])
    tracker.update([], 1000)  # a frame without anybody there
    (second,), ended = tracker.update([(60, 15, 180, 190)], 2000, [blue], faces=[(101, 41, 141, 91)], from_face=[True])
    assert second.track_id != first.track_id and [t.track_id for t in ended] == [first.track_id]
