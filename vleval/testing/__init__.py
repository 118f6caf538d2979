"""The conformance kit: checks that any plugin's tests call on its models, datasets, shifts and metrics.

    from vleval.testing import check_dataset, check_metric, check_model, check_shift, plugin_registry

Each ``check_*`` runs the contract of its interface in :mod:`vleval.api` and raises :class:`AssertionError` on the
first violation, with a message ``<plugin>: <method>: expected <...>; got <...>``; it returns a :class:`Report` of
what it checked and what it skipped (and why). Only plugin tests import this module; it needs numpy and Pillow.
"""

from vleval.testing.common import Report
from vleval.testing.data import check_dataset, check_shift
from vleval.testing.inputs import sample_images, sample_mc_items, sample_outputs, sample_prompts, sample_texts
from vleval.testing.metric import check_metric
from vleval.testing.model import check_model
from vleval.testing.registry import plugin_registry

__all__ = ["Report", "check_dataset", "check_metric", "check_model", "check_shift", "plugin_registry",
           "sample_images", "sample_mc_items", "sample_outputs", "sample_prompts", "sample_texts"]
