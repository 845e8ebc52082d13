"""benchmarks/replay_replan.py: a budget run's logged epoch times through the re-plan rule."""

from __future__ import annotations

from conftest import benchmark_script


def test_a_slow_first_epoch_is_cut_then_given_back():
    script = benchmark_script("replay_replan")
    # 100 iterations an epoch, 10 planned, 20-s validations, a 1,000-s budget: the first epoch's
    # 1 s/iteration fits 8 epochs; the later ones' 0.7 s fits 10 again (each 90 s with its
    # validation), and the stage ends 950 s in
    epochs = [(100.0, 120.0)] + [(70.0, 90.0)] * 9
    result = script.replay(20.0, epochs, 100, 10, 1000.0)
    assert [(r["after_epoch"], r["epochs"]) for r in result["replanned"]] == [(0, 8), (1, 10)]
    assert result["epochs"] == 10
    assert abs(result["stage_minutes"] - 950.0 / 60.0) < 1e-9
    # a loop steady at the first epoch's pace keeps the cut
    steady = script.replay(20.0, [(100.0, 120.0)] * 10, 100, 10, 1000.0)
    assert steady["epochs"] == 8 and len(steady["replanned"]) == 1
