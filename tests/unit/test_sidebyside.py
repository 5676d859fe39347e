"""relucourse.sidebyside: members trained side by side end where they would alone."""

import torch
import torch.nn.functional as F
from torch import nn

from relucourse.sidebyside import SideBySide


def _adam_reference(model, X, y, lr, steps):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_side_by_side_equals_one_at_a_time():
    torch.manual_seed(0)
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)))
    copies = [nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)) for _ in members]
    for c, m in zip(copies, members):
        c.load_state_dict(m.state_dict())
    sbs = SideBySide(members, [1e-2, 3e-2])
    for _ in range(5):
        h = torch.tanh(torch.baddbmm(sbs["0.bias"][:, None], X.expand(2, -1, -1), sbs["0.weight"].transpose(1, 2)))
        out = torch.baddbmm(sbs["2.bias"][:, None], h, sbs["2.weight"].transpose(1, 2))
        losses = torch.stack([F.cross_entropy(out[s], y) for s in range(2)])
        sbs.step(losses)
    sbs.write_back()
    for c, m, lr in zip(copies, members, [1e-2, 3e-2]):
        _adam_reference(c, X, y, lr, 5)
        for p, q in zip(c.parameters(), m.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
