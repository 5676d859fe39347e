"""relucourse.regions: activation patterns and region counts agree with hand-made nets."""

import numpy as np
import torch
from torch import nn

from relucourse.regions import activation_patterns, count_regions_on_segment, pattern_ids, region_map


def two_lines_net():
    """Two hidden units with boundaries x1 = 0 and x2 = 0: four quadrants, four regions."""
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
    return net


def test_activation_patterns_columns_follow_the_relus():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    X = torch.randn(7, 2)
    p = activation_patterns(net, X)
    assert p.shape == (7, 5) and p.dtype == torch.bool
    with torch.no_grad():
        z1 = net[0](X)
        z2 = net[2](torch.relu(z1))
    assert torch.equal(p, torch.cat([z1 > 0, z2 > 0], 1))
    assert activation_patterns(nn.Sequential(nn.Linear(2, 1)), X).shape == (7, 0)


def test_pattern_ids_number_rows_by_first_appearance():
    p = torch.tensor([[True, False], [False, False], [True, False], [True, True]])
    assert pattern_ids(p).tolist() == [0, 1, 0, 2]


def test_region_map_counts_the_four_quadrants():
    xs, ys, ids = region_map(two_lines_net(), -1.0, 1.0, resolution=50)
    assert ids.shape == (50, 50) and len(xs) == 50
    assert len(np.unique(ids)) == 4


def test_count_regions_on_segment():
    net = two_lines_net()
    assert count_regions_on_segment(net, torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 2.0])) == 3
    assert count_regions_on_segment(net, torch.tensor([-1.0, -0.5]), torch.tensor([1.0, -0.5])) == 2
    assert count_regions_on_segment(net, torch.tensor([0.5, 0.5]), torch.tensor([1.0, 2.0])) == 1
