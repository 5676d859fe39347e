"""A dead-unit monitor: which ReLU units never fire on a whole data set.

A ReLU unit is **dead on the data X** when its output is 0 for every input in X, i.e. its
pre-activation is <= 0 everywhere. Its gradient is then 0 for every input too, so gradient
descent on X cannot change the weights that feed it. A unit that is 0 on one batch but fires on
some other input of X is merely *inactive on that batch*, not dead.

The monitor runs the model over X in batches and records, for every **ReLU site**, how often each
unit was non-zero:

* ``nn.ReLU`` modules (and subclasses), seen with forward hooks;
* functional uses inside ``forward`` that module hooks cannot see: ``F.relu``, ``F.relu_``,
  ``torch.relu``, ``torch.relu_``, ``Tensor.relu``/``relu_``, ``torch.clamp``/``clip``/
  ``clamp_min`` (and their ``Tensor`` and in-place forms) with a lower bound of exactly 0, and
  ``F.threshold(x, 0, 0)``. They are intercepted with a :class:`torch.overrides.TorchFunctionMode`.

**Site names.** A module site is named by its name in ``model.named_modules()``, e.g. ``"net.2"``
(``""`` for a model that is itself an ``nn.ReLU``). A module called more than once per forward pass
(one ``self.relu`` reused after every layer) gives one site per call: ``"relu"``, ``"relu@1"``,
``"relu@2"``, ... Functional uses are named by their call order within one forward pass:
``"relu#0"``, ``"relu#1"``, ... (whatever the function). The ``F.relu`` inside an ``nn.ReLU``
module is not counted a second time. The dict keeps the order of the first forward pass.

**Units.** For an output of shape ``(N, C, ...)`` the units are the ``C`` entries of dimension 1
(features of a linear layer, channels of a convolution); a unit counts as active if it is non-zero
at any input and any position. An output with fewer than 2 dimensions is a single unit.

The model runs in evaluation mode under ``torch.no_grad()``; every module's training flag is
restored afterwards, the monitor's hooks are removed (also when the forward pass fails), and hooks
the caller installed are left alone.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["dead_masks", "dead_fractions", "active_rates", "dead_summary", "RELU_FUNCTIONS"]

#: Functions that are a ReLU whatever their arguments.
RELU_FUNCTIONS = (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_)
_CLAMPS = (torch.clamp, torch.clip, torch.clamp_min, torch.clamp_, torch.clip_, torch.clamp_min_,
           torch.Tensor.clamp, torch.Tensor.clip, torch.Tensor.clamp_min, torch.Tensor.clamp_,
           torch.Tensor.clip_, torch.Tensor.clamp_min_)


def _is_zero(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and bool(value.item() == 0)
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == 0


def _is_relu_call(func, args, kwargs) -> bool:
    if func in RELU_FUNCTIONS:
        return True
    if func in _CLAMPS:
        lower = args[1] if len(args) > 1 else kwargs.get("min")
        upper = args[2] if len(args) > 2 else kwargs.get("max")
        if func in (torch.clamp_min, torch.clamp_min_, torch.Tensor.clamp_min, torch.Tensor.clamp_min_):
            upper = None
        if lower is None or not _is_zero(lower):
            return False
        if upper is None:
            return True
        return isinstance(upper, numbers.Real) and upper > 0  # ReLU6-like: still zero iff pre <= 0
    if func is F.threshold:
        thr = args[1] if len(args) > 1 else kwargs.get("threshold")
        val = args[2] if len(args) > 2 else kwargs.get("value")
        return thr is not None and val is not None and _is_zero(thr) and _is_zero(val)
    return False


class _Recorder:
    """Accumulates, per site, how many (input, position) pairs made each unit non-zero."""

    def __init__(self):
        self.active: dict[str, torch.Tensor] = {}
        self.total: dict[str, int] = {}
        self.module_calls: dict[str, int] = {}
        self.functional_calls = 0
        self.inside_relu_module = 0

    def new_batch(self):
        self.module_calls.clear()
        self.functional_calls = 0
        self.inside_relu_module = 0

    def record(self, name: str, output) -> None:
        if not isinstance(output, torch.Tensor):
            return
        out = output.detach()
        if out.ndim < 2:
            nonzero = (out != 0).reshape(1, -1).sum(1)
            count = out.numel()
        else:
            dims = [d for d in range(out.ndim) if d != 1]
            nonzero = (out != 0).sum(dim=dims)
            count = out.numel() // out.shape[1]
        nonzero = nonzero.to("cpu", torch.int64)
        if name in self.active:
            if self.active[name].shape != nonzero.shape:
                raise ValueError(f"ReLU site {name!r} has {tuple(nonzero.shape)} units in one batch and "
                                 f"{tuple(self.active[name].shape)} in another")
            self.active[name] += nonzero
            self.total[name] += count
        else:
            self.active[name] = nonzero
            self.total[name] = count


class _FunctionalReLUs(TorchFunctionMode):
    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        rec = self.recorder
        if rec.inside_relu_module == 0 and _is_relu_call(func, args, kwargs):
            rec.record(f"relu#{rec.functional_calls}", result)
            rec.functional_calls += 1
        return result


def _check_inputs(model, X, batch_size) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}")
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, not {type(X).__name__}")
    if X.ndim == 0 or len(X) == 0:
        raise ValueError("X must hold at least one input: 'dead on the data' needs data")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")


def _collect(model: nn.Module, X: torch.Tensor, batch_size: int) -> _Recorder:
    _check_inputs(model, X, batch_size)
    rec = _Recorder()
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            def pre_hook(mod, inputs):
                rec.inside_relu_module += 1

            def hook(mod, inputs, output, name=name):
                rec.inside_relu_module -= 1
                k = rec.module_calls.get(name, 0)
                rec.module_calls[name] = k + 1
                rec.record(name if k == 0 else f"{name}@{k}", output)

            handles.append(module.register_forward_pre_hook(pre_hook, prepend=True))
            handles.append(module.register_forward_hook(hook, prepend=True))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad(), _FunctionalReLUs(rec):
            for start in range(0, len(X), batch_size):
                rec.new_batch()
                model(X[start:start + batch_size])
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return rec


def active_rates(model: nn.Module, X: torch.Tensor, *, batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Per ReLU site, the fraction of inputs (and positions) on which each unit is non-zero."""
    rec = _collect(model, X, batch_size)
    return {name: rec.active[name].double() / max(rec.total[name], 1) for name in rec.active}


def dead_masks(model: nn.Module, X: torch.Tensor, *, batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Per ReLU site, a bool tensor over units: True where the unit outputs 0 for every input in X."""
    rec = _collect(model, X, batch_size)
    return {name: rec.active[name] == 0 for name in rec.active}


def dead_fractions(model: nn.Module, X: torch.Tensor, *, batch_size: int = 1024) -> dict[str, float]:
    """Per ReLU site, the fraction of its units that are dead on X (see :func:`dead_masks`)."""
    return {name: mask.float().mean().item() for name, mask in dead_masks(model, X, batch_size=batch_size).items()}


def dead_summary(model: nn.Module, X: torch.Tensor, *, batch_size: int = 1024) -> str:
    """One short line per ReLU site: ``name  dead/units  (percent)``."""
    lines = []
    for name, mask in dead_masks(model, X, batch_size=batch_size).items():
        dead, n = int(mask.sum()), mask.numel()
        lines.append(f"{name or '(model)':<10} {dead:>5}/{n:<5} dead ({100 * dead / n:5.1f} %)")
    return "\n".join(lines)
