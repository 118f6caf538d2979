"""The machine's fingerprint for a record, or the error that prevented it."""

from __future__ import annotations

from vleval.engine import environment


def test_the_fingerprint_or_the_error_that_prevented_it(monkeypatch):
    assert environment.fingerprint_or_error() == environment.fingerprint()

    def broken(device: str = "cpu"):
        raise ImportError("torch is broken")

    monkeypatch.setattr(environment, "fingerprint", broken)
    assert environment.fingerprint_or_error() == {"error": "torch is broken"}
