"""The day runner's report: measured accuracy per configuration, summary, table and plot."""

import math

from adaspring_ros.tools.day_runner import (
    ContextSample,
    DayLog,
    analyse,
    format_table,
    plot_timeline,
)


def config(cid, scene, ops, feasible=True):
    return {"config_id": cid, "scene_time_s": scene, "clock": "09:00", "battery": 0.8,
            "lambda2": 0.3, "storage_budget_bytes": 1_800_000, "latency_budget_ms": 1.0,
            "accuracy_loss_threshold": 1.0, "event_rate_per_min": 1.0, "operators": ops,
            "predicted_accuracy_loss": 0.5, "predicted_latency_ms": 0.8, "energy": 100.0,
            "params_bytes": 900_000, "activation_bytes": 400_000, "macs": 10**7,
            "search_time_ms": 0.4, "candidates_evaluated": 30, "feasible": feasible,
            "violated": [] if feasible else ["latency"], "trigger": "first context",
            "reason": "r"}


def make_log():
    log = DayLog()
    log.configs = [config(1, 32400.0, ["conv@1.0"] * 4),
                   config(2, 36000.0, ["fire@0.5"] * 4, feasible=False)]
    log.contexts = [ContextSample(32400.0 + 60 * i, 0.86 - 0.001 * i, 1_800_000, 1.0)
                    for i in range(100)]
    # config 1: 3 of 4 right; config 2: 2 of 2 right; one event without ground truth
    log.truth = {9: "doorbell", 19: "fire_alarm", 29: "background", 39: "door_knock",
                 49: "kettle_whistle", 59: "doorbell"}
    log.events = {9: ("doorbell", 1, 10.0), 19: ("fire_alarm", 1, 12.0),
                  29: ("doorbell", 1, 11.0), 39: ("door_knock", 1, 30.0),
                  49: ("kettle_whistle", 2, 9.0), 59: ("doorbell", 2, 8.0),
                  69: ("background", 2, 7.0)}
    log.budget.add(0.0, 1.0)
    # (real t, scene t, config_id, model ms): config 1 at 1.0-1.2 ms, config 2 at 0.5 ms
    log.windows = [(20.0, 32500.0, 1, 1.0), (21.0, 32600.0, 1, 1.2), (22.0, 32700.0, 1, 1.1),
                   (5.0, 32450.0, 1, 0.9), (30.0, 36100.0, 2, 0.5)]
    return log


def test_measured_figures_are_grouped_by_the_configuration_in_use():
    rows, summary = analyse(make_log())
    assert [r["measured_windows"] for r in rows] == [4, 2]
    assert rows[0]["measured_accuracy"] == 0.75 and rows[1]["measured_accuracy"] == 1.0
    assert rows[0]["measured_latency_ms"] == 1.05 and rows[1]["measured_latency_ms"] == 0.5
    assert rows[0]["measured_p95_ms"] == 1.2
    assert summary["windows_matched_to_truth"] == 6 and summary["windows_classified"] == 7
    assert math.isclose(summary["detection_accuracy"], 5 / 6)
    assert summary["evolutions"] == 2 and summary["predicted_feasible_evolutions"] == 1
    # judged on measured latency (budget 1.0 ms): config 1 misses at p95, config 2 meets it
    assert summary["evolutions_meeting_T_bgt_measured"] == 1
    assert rows[0]["share_meeting_T_bgt"] == 0.5 and rows[1]["share_meeting_T_bgt"] == 1.0
    # the window 5 s after the start is settling time: 2 of the 4 counted windows meet 1.0 ms
    assert summary["windows_counted_for_T_bgt"] == 4
    assert summary["share_meeting_T_bgt_measured"] == 0.5
    assert 0 < rows[1]["energy_mj_per_window"] < rows[0]["energy_mj_per_window"]
    assert summary["event_latency_ms_p95"] == 30.0
    assert summary["battery_start"] > summary["battery_end"]


def test_table_names_violations_and_plot_is_written(tmp_path):
    log = make_log()
    rows, _ = analyse(log)
    table = format_table(rows)
    assert "VIOLATED latency" in table and "fire@0.5" in table
    plot_timeline(log, rows, tmp_path / "day.png")
    assert (tmp_path / "day.png").stat().st_size > 10_000
