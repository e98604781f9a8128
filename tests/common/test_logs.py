import json
import logging

from common.logs import log_event, setup_logging
from common.metrics import Metrics, PeriodicReporter, percentile
from common.settings import CommonSettings


def test_json_lines_to_stdout_and_file(tmp_path, capsys):
    settings = CommonSettings(log_dir=tmp_path, instance_id="test1")
    log = setup_logging("edge", settings)
    log_event(log, "frame_received", trace_id="abc", ts={"captured": 1, "edge_received": 5})
    for handler in logging.getLogger().handlers:
        handler.flush()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "frame_received" and line["tier"] == "edge" and line["trace_id"] == "abc"
    assert isinstance(line["ts_ms"], int) and line["ts"]["edge_received"] == 5
    stored = (tmp_path / "edge-test1.jsonl").read_text().strip().splitlines()
    assert json.loads(stored[-1])["event"] == "frame_received"


def test_unwritable_log_dir_falls_back_to_stdout(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    log = setup_logging("iot", CommonSettings(log_dir=blocker / "sub", instance_id="t"))
    log_event(log, "hello")
    events = [json.loads(x)["event"] for x in capsys.readouterr().out.strip().splitlines()]
    assert events == ["log_dir_unwritable", "hello"]


def test_metrics_snapshot_and_reporter(tmp_path, capsys):
    m = Metrics()
    m.inc("sent", 3)
    m.set_gauge("tracks", 2)
    for v in range(1, 101):
        m.observe("infer_ms", float(v))
    snap = m.snapshot()
    assert snap["counters"] == {"sent": 3} and snap["gauges"] == {"tracks": 2}
    assert snap["timings"]["infer_ms"]["p50"] in (50.0, 51.0) and snap["timings"]["infer_ms"]["p95"] >= 95
    log = setup_logging("cloud", CommonSettings(log_dir=tmp_path, instance_id="t"))
    PeriodicReporter(m, log, interval_s=60).report()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "metrics" and line["counters"]["sent"] == 3
    assert percentile([], 50) == 0.0
