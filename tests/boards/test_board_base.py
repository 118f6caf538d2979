"""Which unscaled record a scaled variant is compared with, replicates included."""

from __future__ import annotations

from vleval.boards.base import base_record
from vleval.results.record import Record


def _record(args: dict, replicate: dict | None = None, scaling: dict | None = None, model: str = "m") -> Record:
    cell = {"model": model, "model_args": args, "replicate": replicate or {}, "scaling": scaling or {},
            "label": f"{model}{args}{scaling or ''}"}
    return Record(run_id="r", cell_key=cell["label"], benchmark="b", cell=cell, seed=0, started_at="now")


def test_a_scaled_variant_without_replicate_arguments_is_compared_with_the_first_replicate():
    seeds = [_record({"experts": 4, "training_seed": s}, {"training_seed": s}) for s in (0, 1, 2)]
    other = _record({"experts": 8, "training_seed": 0}, {"training_seed": 0})
    scaled = _record({"experts": 4}, scaling={"top_k": 1})
    assert base_record(scaled, [other, *seeds, scaled]) is seeds[0]
    assert base_record(seeds[1], seeds) is None  # an unscaled record has no base


def test_a_scaled_replicate_is_compared_with_the_base_replicate_of_its_own_value():
    seeds = [_record({"experts": 4, "seed": s}, {"seed": s}) for s in (0, 1)]
    scaled = _record({"experts": 4, "seed": 1}, {"seed": 1}, scaling={"top_k": 1})
    assert base_record(scaled, [*seeds, scaled]) is seeds[1]


def test_no_base_when_none_or_several_match():
    base = _record({"experts": 4})
    assert base_record(_record({"experts": 4}, scaling={"prune_to": 2}), [base]) is base
    assert base_record(_record({"experts": 2}, scaling={"prune_to": 2}), [base]) is None  # other arguments
    assert base_record(_record({"experts": 4}, scaling={"top_k": 1}, model="n"), [base]) is None  # other model
    assert base_record(_record({"experts": 4}, scaling={"top_k": 1}), [base, _record({"experts": 4})]) is None
