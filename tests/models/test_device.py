import pytest
import torch

from brainalign.errors import ValidationError
from brainalign.models.device import Acceleration, backward_step


def test_cpu_acceleration_changes_nothing():
    acceleration = Acceleration(torch.device("cpu"))
    layer = torch.nn.Conv2d(3, 4, 3)
    assert acceleration.prepare(layer).weight.is_contiguous()
    assert acceleration.memory_format == torch.contiguous_format

    def forward(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    assert Acceleration(torch.device("cpu"), compile=True).compiled(forward) is forward  # no compile on CPU
    assert acceleration.grad_scaler() is None
    with acceleration.autocast():
        assert not torch.is_autocast_enabled("cpu")
    with Acceleration(torch.device("cpu"), amp="bf16").autocast():
        assert torch.is_autocast_enabled("cpu") and layer(torch.ones(1, 3, 5, 5)).dtype == torch.bfloat16


def test_cuda_acceleration_uses_channels_last_and_compile():
    acceleration = Acceleration(torch.device("cuda"), amp="bf16", compile=True)  # a description; nothing runs
    assert acceleration.memory_format == torch.channels_last

    def forward(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    assert acceleration.compiled(forward) is not forward
    with pytest.raises(ValidationError, match="fp16 needs a CUDA device"):
        Acceleration(torch.device("cpu"), amp="fp16")


def test_backward_step_without_scaler_is_the_plain_step():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3)
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    backward_step(a(x).sum(), opt_a, None)
    b(x).sum().backward()
    opt_b.step()
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, torch.nn.Linear(3, 1).weight)
