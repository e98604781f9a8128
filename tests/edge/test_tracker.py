import itertools

from edge.tracker import Candidate, CropPolicy, IouTracker, TrackRegistry, iou


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


def offer(policy, track, quality, now):
    candidate = Candidate(quality=quality, payload=f"crop@{now}")
    decision, chosen = policy.offer(track, candidate, now)
    if decision == CropPolicy.SEND:
        CropPolicy.sent(track, chosen, now)
    return decision, chosen


def new_track():
    tracker = IouTracker(0.3, ttl_ms=10_000, ids=itertools.count(1))
    return tracker.update([(0, 0, 50, 100)], now_ms=0)[0][0]


def test_first_good_crop_goes_at_once_then_best_of_the_interval():
    policy = CropPolicy(resend_interval_ms=1000, max_crops=5)
    track = new_track()
    assert offer(policy, track, 10, 0)[0] == "send"
    assert offer(policy, track, 30, 300)[0] == "hold"
    assert offer(policy, track, 20, 600)[0] == "hold"
    decision, chosen = offer(policy, track, 12, 1000)
    assert decision == "send" and chosen.payload == "crop@300"  # the best one of the interval
    assert track.crops_sent == 2 and track.best_sent_quality == 30


def test_no_resend_without_a_better_crop_unless_the_cloud_failed():
    policy = CropPolicy(resend_interval_ms=1000, max_crops=5)
    track = new_track()
    offer(policy, track, 10, 0)
    assert offer(policy, track, 10.5, 2000)[0] == "suppress"
    track.last_status = "error"
    assert offer(policy, track, 10.5, 2100)[0] == "send"


def test_recognised_track_gets_no_more_crops_and_max_crops_caps():
    registry = TrackRegistry(0.3, 10_000)
    with registry.lock:
        (track,), _ = registry.tracker("cam").update([(0, 0, 50, 100)], 0)
    policy = CropPolicy(resend_interval_ms=100, max_crops=2)
    offer(policy, track, 10, 0)
    assert registry.apply_result("cam", track.track_id, "recognised")
    assert not registry.apply_result("cam", 999, "recognised")
    assert not registry.apply_result("other-cam", track.track_id, "recognised")
    assert [offer(policy, track, 100 * i, 1000 * i)[0] for i in range(1, 4)] == ["suppress"] * 3
    capped = new_track()
    assert [offer(policy, capped, 10 * 2**i, 1000 * i)[0] for i in range(4)] == ["send", "send", "suppress", "suppress"]


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
