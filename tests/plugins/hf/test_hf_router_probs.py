"""The ``hf`` plugin's router probabilities in routing traces, on the tiny checkpoints of every architecture:
softmax routers' probabilities equal an independent softmax of the router logits recomputed from the router's own
weights (gemma4: of its normalised, scaled projection); sigmoid-scored routers record none."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures import tiny_hf
from fixtures.hf_models import batch_for, load
from fixtures.hf_reference import _np, traced_forward

from vleval.engine import routing

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # transformers'

SIGMOID = {"DeepseekV3TopkRouter", "Glm4vMoeTextTopkRouter", "Glm4MoeTopkRouter", "Dots1TopkRouter", "Llama4Router"}


def _logits(router: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    h = _np(x.reshape(-1, x.shape[-1]))
    if type(router).__name__ == "Gemma4TextRouter":
        h = h / np.sqrt((h**2).mean(-1, keepdims=True) + router.eps) * _np(router.scale) * router.hidden_size**-0.5
        return h @ _np(router.proj.weight).T
    logits = h @ _np(router.weight).T
    return logits + _np(router.bias) if getattr(router, "bias", None) is not None else logits


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("arch", list(tiny_hf.ARCHS))
def test_probs_are_the_softmax_of_the_router_logits(arch: str) -> None:
    model = load(arch)
    batch = batch_for(model)
    trace, probe = traced_forward(model, batch)
    valid = batch["attention_mask"].reshape(-1).bool().numpy()
    sigmoid = {type(site.module).__name__ in SIGMOID for site in model.sites}
    assert len(sigmoid) == 1
    if sigmoid.pop():
        assert all(e.probs is None for e in trace.events)
        assert all("token_entropy" not in entry for entry in routing.summarize(trace)["layers"])
        return
    split = any(site.rows != "all" for site in model.sites)
    for event in trace.events:
        assert event.probs is not None and event.probs.shape == (len(event.experts), event.num_experts)
        np.testing.assert_allclose(event.probs.sum(axis=1), 1.0, atol=1e-5)
        chosen = np.take_along_axis(event.probs, event.experts, axis=1)  # the selected experts have probability
        assert (chosen > 0).all()
    if split:  # modality-split layers: checked by the rows above (text and vision columns), not recomputed here
        return
    for event in trace.events:
        calls = [(m, x) for m, x in probe.calls if any(s.module is m and s.layer == event.layer for s in model.sites)]
        assert len(calls) == 1
        want = _softmax(_logits(*calls[0]))[valid]
        np.testing.assert_allclose(event.probs, want, rtol=0, atol=1e-5)
        entropy = routing.token_entropy([event])
        terms = np.where(want > 0, want * np.log(np.where(want > 0, want, 1)), 0)
        assert entropy == pytest.approx(float((-terms.sum(1) / np.log(want.shape[1])).mean()), abs=1e-5)
