"""Replicates of a variant (e.g. training seeds): planned as separate cells, only the first timed."""

from __future__ import annotations

import pytest

from vleval.config.load import ConfigError
from vleval.plan.cells import expand


def _bench(**model: object) -> dict:
    return {"models": [{"name": "toy", **model}], "datasets": [{"name": "d"}], "seeds": [0],
            "latency": {"warmup": 1, "repetitions": 3}}


def test_replicates_expand_after_scalings_and_only_the_first_is_timed() -> None:
    cells = expand("b", _bench(sweep={"experts": [1, 2]}, replicates={"training_seed": [0, 1, 2]},
                                scaling=[{}, {"top_k": 1}]))
    assert [(c.model_args, c.scaling.top_k) for c in cells] == [
        ({"experts": e, "training_seed": s}, k) for e in (1, 2) for k in (None, 1) for s in (0, 1, 2)]
    timed = [c.model_args["training_seed"] for c in cells if c.latency["repetitions"] > 0]
    assert timed == [0, 0, 0, 0]  # one per variant and scaling
    untimed = [c.latency for c in cells if c.model_args["training_seed"]]
    assert all(latency == {"warmup": 0, "repetitions": 0} for latency in untimed)
    assert len({c.config_hash() for c in cells}) == len(cells)  # each replicate its own identity
    assert cells[1].label == "toy(experts=1, training_seed=1)"


def test_replicate_argument_also_swept_is_refused() -> None:
    with pytest.raises(ConfigError, match="training_seed is both a replicate argument"):
        expand("b", _bench(sweep={"training_seed": [0, 1]}, replicates={"training_seed": [0, 1]}))


def test_without_replicates_nothing_changes() -> None:
    cells = expand("b", _bench(sweep={"experts": [1, 2]}))
    assert [c.model_args for c in cells] == [{"experts": 1}, {"experts": 2}]
    assert all(c.latency == {"warmup": 1, "repetitions": 3} for c in cells)


def test_a_model_with_its_own_shifts_is_evaluated_on_them_only() -> None:
    bench = _bench(sweep={"experts": [1]})
    bench["models"].append({"name": "captioner", "shifts": [{"name": "s", "args": {"task": "captioning"}}]})
    cells = expand("b", bench)
    assert [(c.model, c.evaluation.config()) for c in cells] == [
        ("toy", {"kind": "dataset", "name": "d", "args": {}}),
        ("captioner", {"kind": "shift", "name": "s", "args": {"task": "captioning"}})]


def test_preflight_names_a_model_entrys_own_shift(tmp_path) -> None:
    from conftest import explicit_registry, toy_benchmark

    from vleval.executors.runner import run_benchmark

    bench = toy_benchmark()
    bench["models"][0]["shifts"] = [{"name": "toy-noise", "args": {"nosie": 1}}]
    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.models\[0\]\.shifts\[0\]: shift 'toy-noise'.*nosie"):
        run_benchmark("toy", bench, tmp_path, registry=explicit_registry())
    bench = toy_benchmark(models=[{"name": "toy-moe", "replicates": {"colour": ["red"]}}])
    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.models\[0\]: model 'toy-moe'.*colour"):
        run_benchmark("toy", bench, tmp_path, registry=explicit_registry())


def test_replicates_run_untimed_and_pool_into_one_row_compared_with_scalings(tmp_path) -> None:
    from conftest import explicit_registry, toy_benchmark

    from vleval.boards import build as leaderboard
    from vleval.boards import summaries as summary
    from vleval.executors.runner import run_benchmark
    from vleval.results import sidecars as item_results

    bench = toy_benchmark(datasets=[], models=[
        {"name": "toy-moe", "sweep": {"experts": [4]}, "replicates": {"training_seed": [0, 1, 2]}},
        {"name": "toy-moe", "sweep": {"experts": [4]}, "scaling": [{"top_k": 1}]}])
    run = run_benchmark("toy", bench, tmp_path, registry=explicit_registry())
    assert [r.status for r in run.results] == ["ok"] * 4
    timed = [r.domains["source"].latency["timed_batches"] for r in run.results]
    assert timed[0] > 0 and timed[1:3] == [0, 0] and timed[3] > 0  # seeds 1, 2 untimed; the scaling timed
    items = item_results.reader({r.cell_key: run.path for r in run.results})
    (board,) = leaderboard.build(run.results, items=items)  # untimed replicates do not make the board "mixed"
    rows = {row.label: row for row in board.rows}
    pooled, scaled = rows["toy-moe(experts=4)"], rows["toy-moe(experts=4, top_k=1)"]
    assert pooled.replicates == 3
    targets = [r.primary("target") for r in run.results[:3]]
    assert pooled.target == pytest.approx(sum(targets) / 3)
    assert pooled.p50_ms == run.results[0].domains["source"].p50_ms  # latency from the timed replicate only
    seed0 = run.results[0].primary("target")  # the scaling ran on the default seed: compared with that replicate
    assert scaled.vs_base == pytest.approx(run.results[3].primary("target") - seed0)
    text = summary.section_text(summary.expert_scaling(run.results))
    (header, *lines) = [line for line in text if "toy-moe(experts=4)" in line or line.startswith("[")][:2]
    assert "3 seeds" in lines[0] and f"{sum(targets) / 3:.1f}" in lines[0]
