import threading

import cv2

from edge.cpu_share import OpenCvThreads


def test_a_lone_worker_gets_every_core_several_get_one_each():
    before = cv2.getNumThreads()
    try:
        threads = OpenCvThreads(0, cores=2)
        with threads.working() as alone:
            assert alone == 2 and cv2.getNumThreads() == 2
            with threads.working() as second:  # another worker starts a frame meanwhile
                assert second == 1 and cv2.getNumThreads() == 1
        with threads.working() as again:
            assert again == 2
    finally:
        cv2.setNumThreads(before)


def test_a_fixed_count_never_changes():
    before = cv2.getNumThreads()
    try:
        threads = OpenCvThreads(1, cores=8)
        assert cv2.getNumThreads() == 1
        with threads.working() as n:
            assert n == 1
    finally:
        cv2.setNumThreads(before)


def test_the_busy_count_is_released_on_errors_and_across_threads():
    threads = OpenCvThreads(0, cores=4)
    before = cv2.getNumThreads()
    try:
        try:
            with threads.working():
                raise RuntimeError("a bad frame")
        except RuntimeError:
            pass
        seen = []
        barrier = threading.Barrier(2)

        def work():
            with threads.working() as n:
                barrier.wait(5)
                seen.append(n)

        workers = [threading.Thread(target=work) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(5)
        assert sorted(seen)[0] == 2 and threads._busy == 0  # the second of two busy workers: 4 // 2
    finally:
        cv2.setNumThreads(before)
