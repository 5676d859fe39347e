"""Train several small models of the same shape side by side, as one batched computation.

Comparisons over seeds and learning rates train many tiny models. One at a time, each training
step of each model pays Python and dispatch overhead that dwarfs its arithmetic. Here the
parameters of all members are stacked along a new first dimension (member ``s`` is row ``s``),
the forward pass uses batched operations (``torch.bmm``, grouped convolutions), and one Adam
step updates every member with its own learning rate. Each member's loss is its own mean, the
losses are summed, and since members share no parameter, each receives exactly the gradient it
would receive alone: the result is the same as training the members one after the other (up
to floating-point rounding), only faster.
"""

from __future__ import annotations

import torch
from torch import nn


class SideBySide:
    """Stacked copies of the parameters of ``members`` (same architecture), trained with Adam.

    ``params[name]`` has shape ``(len(members), *shape)``, for every ``name`` in
    ``members[0].named_parameters()``. ``lrs`` holds one learning rate per member.
    """

    def __init__(self, members: list[nn.Module], lrs: list[float], betas=(0.9, 0.999), eps: float = 1e-8):
        self.members = members
        names = [n for n, _ in members[0].named_parameters()]
        own = [dict(m.named_parameters()) for m in members]
        self.params = {n: torch.stack([o[n].detach() for o in own]).clone().requires_grad_(True)
                       for n in names}
        self.lrs = torch.tensor(lrs, dtype=torch.float32)
        self.betas, self.eps, self.t = betas, eps, 0
        self.state = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in self.params.items()}

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.params[name]

    def step(self, losses: torch.Tensor) -> None:
        """One Adam step (PyTorch's default Adam, no weight decay) on ``losses``, one per member."""
        for p in self.params.values():
            p.grad = None
        losses.sum().backward()
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        with torch.no_grad():
            for n, p in self.params.items():
                m, v = self.state[n]
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                lr = self.lrs.view(-1, *([1] * (p.dim() - 1)))
                p.sub_(lr / c1 * m / ((v / c2).sqrt() + self.eps))

    @torch.no_grad()
    def write_back(self) -> list[nn.Module]:
        """Copy the trained values into the member modules; return them."""
        for s, member in enumerate(self.members):
            for n, p in member.named_parameters():
                p.copy_(self.params[n][s])
        return self.members
