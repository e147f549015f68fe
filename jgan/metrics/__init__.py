"""Evaluation: one registry of metrics, the feature networks, and `evaluate` (in the loop and on
checkpoints).

A `Metric` is a function `(fake, real, **options) -> dict of floats` on features (or on 2-D
samples) together with the feature network that makes its inputs: `"inception"` (the FID
Inception, `jgan.metrics.inception`), `"fmnist"` (jgan's Fashion-MNIST classifier,
`jgan.metrics.classifier`) or None (2-D data). The functions follow the reference
implementations' definitions, so their numbers compare with published ones.

Protocol metrics (`fid50k_train`, `kid10k_test`, `is50k`, ...: `jgan.metrics.protocols`) also fix
the real split and the numbers of real and generated images; their functions take the cached
reference statistics instead of the real features.
"""
import dataclasses
from typing import Callable, Optional

from jgan.metrics import distribution, modes, protocols
from jgan.registry import Registry


@dataclasses.dataclass(frozen=True)
class Metric:
    """`fn` on the `output` (0: features, 1: logits) of feature network `network`."""
    fn: Callable[..., dict]
    base: str  # fn's result keys start with it; named variants rename them (fid -> fid_fmnist).
    network: Optional[str] = None
    output: int = 0
    protocol: Optional[protocols.Protocol] = None  # Set: fn takes (fake, reference statistics).

    def __call__(self, fake, real=None, **options) -> dict:
        return self.fn(fake, real, **options)


METRICS = Registry("metric")
for _base, _fn in (("fid", distribution.fid), ("kid", distribution.kid),
                   ("pr", distribution.precision_recall), ("dc", distribution.density_coverage)):
    METRICS.register(_base, Metric(_fn, _base, "inception"))
    METRICS.register(f"{_base}_fmnist", Metric(_fn, _base, "fmnist"))
METRICS.register("is", Metric(distribution.inception_score_metric, "is", "inception", output=1))
METRICS.register("modes", Metric(modes.modes, "modes"))
for _name in protocols.PROTOCOLS:
    _protocol = protocols.PROTOCOLS.get(_name)
    METRICS.register(_name, Metric(protocols.FUNCTIONS[_protocol.metric], _protocol.metric,
                                   "inception", output=int(_protocol.metric == "is"),
                                   protocol=_protocol))


def get(name: str) -> Metric:
    return METRICS.get(name)


def names() -> list[str]:
    return METRICS.names()
