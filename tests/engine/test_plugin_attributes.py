"""Optional metric attributes: a metric that does not subclass ``vleval.api.Metric`` gets the API's defaults."""

from __future__ import annotations

from vleval.api import Metric, Task
from vleval.engine import plugin_attributes


class Bare:
    """A duck-typed metric: only what the registry and ``compute`` need."""

    task = Task.RETRIEVAL
    primary = "score"


class Full(Metric):
    task = Task.CAPTIONING
    primary = "cider"
    higher_is_better = False

    def describe(self):
        return {"tokenizer": "ptb"}

    def per_image(self):
        return {"cider": [1.0, 2.0]}


def test_a_duck_typed_metric_gets_the_api_defaults():
    assert plugin_attributes.higher_is_better(Bare()) is Metric.higher_is_better is True
    assert plugin_attributes.settings(Bare()) is None  # no describe: nothing recorded (not {})
    assert plugin_attributes.per_image_scores(Bare()) == {}


def test_declared_attributes_are_read():
    assert plugin_attributes.higher_is_better(Full()) is False
    assert plugin_attributes.settings(Full()) == {"tokenizer": "ptb"}
    assert plugin_attributes.per_image_scores(Full()) == {"cider": [1.0, 2.0]}
    plain = type("Plain", (Metric,), {"task": Task.RETRIEVAL, "primary": "x"})()
    assert plugin_attributes.settings(plain) == {}  # the base class's describe
