"""Module mechanics: registration, names, state_dict, train/eval, devices, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(mg.ones(4))
        self.register_buffer("steps", mg.zeros(1))
        self.note = "plain attribute"

    def forward(self, x):
        return self.norm(self.linear(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        self.block = Block()
        self.heads = nn.ModuleList([nn.Linear(4, 1), nn.Linear(4, 2)])

    def forward(self, x):
        h = self.block(self.encoder(x))
        return [head(h) for head in self.heads]


def test_parameters_register_themselves_with_dotted_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["encoder.0.weight", "encoder.0.bias", "block.scale", "block.linear.weight",
                     "block.linear.bias", "block.norm.weight", "block.norm.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    params = list(net.parameters())
    assert len(params) == 11
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.norm.running_mean",
                                                   "block.norm.running_var",
                                                   "block.norm.num_batches_tracked"]
    assert net.block.note == "plain attribute"


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["encoder", "block", "heads"]
    assert list(net.children())[0] is net.encoder
    kinds = [type(m).__name__ for m in net.modules()]
    assert kinds == ["Net", "Sequential", "Linear", "ReLU", "Block", "Linear", "BatchNorm1d",
                     "ModuleList", "Linear", "Linear"]


def test_reassigning_and_deleting_attributes_updates_registration():
    block = Block()
    block.linear = nn.Linear(3, 4, bias=False)
    assert "linear.bias" not in dict(block.named_parameters())
    block.scale = None
    assert "scale" not in dict(block.named_parameters())
    with pytest.raises(TypeError, match="Parameter or None"):
        block.scale = mg.ones(4)  # a plain tensor cannot silently replace a parameter
    block.steps = mg.ones(1)
    assert dict(block.named_buffers())["steps"].numpy()[0] == 1
    del block.linear
    assert not hasattr(block, "linear")
    with pytest.raises(AttributeError, match="linear"):
        _ = block.linear


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2


def test_setting_attributes_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_sequential_indexing_len_iteration_and_forward(rng):
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    assert len(model) == 3
    assert isinstance(model[1], nn.ReLU) and model[-1] is model[2]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    x = mg.tensor(rng.standard_normal((4, 3)))
    by_hand = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x).numpy(), by_hand.numpy())
    named = nn.Sequential(OrderedDict(first=nn.Linear(1, 1), act=nn.Tanh()))
    assert [n for n, _ in named.named_parameters()] == ["first.weight", "first.bias"]
    model.append(nn.Sigmoid())
    assert len(model) == 4


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.Linear(1, 2))
    layers.extend([nn.Linear(2, 3)])
    assert len(layers) == 3 and layers[2].out_features == 3
    assert len(list(layers.parameters())) == 6
    assert len(layers[1:]) == 2


def test_state_dict_holds_parameters_and_buffers_and_round_trips(rng):
    net = Net()
    net.train()
    net(mg.tensor(rng.standard_normal((8, 2))))  # moves the batch norm's running statistics
    state = net.state_dict()
    assert list(state) == ["encoder.0.weight", "encoder.0.bias", "block.scale", "block.steps",
                           "block.linear.weight", "block.linear.bias", "block.norm.weight",
                           "block.norm.bias", "block.norm.running_mean",
                           "block.norm.running_var", "block.norm.num_batches_tracked",
                           "heads.0.weight", "heads.0.bias",
                           "heads.1.weight", "heads.1.bias"]
    assert all(isinstance(v, mg.Tensor) and not v.requires_grad for v in state.values())
    copy = Net()
    result = copy.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in copy.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[name].numpy(), err_msg=name)
    # The copy holds its own memory: changing it leaves the original alone.
    copy.block.linear.weight.data[...] = 0
    assert np.any(net.block.linear.weight.numpy() != 0)


def test_load_state_dict_takes_arrays_and_casts_to_the_module_dtype(rng):
    layer = nn.Linear(2, 3)
    weight = rng.standard_normal((3, 2))  # float64 host array
    layer.load_state_dict({"weight": weight, "bias": [1.0, 2.0, 3.0]})
    assert layer.weight.dtype == mg.float32
    np.testing.assert_allclose(layer.weight.numpy(), weight, rtol=1e-6)
    np.testing.assert_array_equal(layer.bias.numpy(), [1, 2, 3])
    weight[...] = 0  # no aliasing of the given array
    assert np.any(layer.weight.numpy() != 0)


def test_load_state_dict_errors_name_the_key():
    net = Net()
    state = dict(net.state_dict())
    missing = {k: v for k, v in state.items() if k != "block.linear.bias"}
    with pytest.raises(RuntimeError, match=r"missing.*'block\.linear\.bias'"):
        net.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"unexpected.*'extra\.weight'"):
        net.load_state_dict({**state, "extra.weight": mg.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for 'heads\.1\.weight'.*\(2, 5\)"):
        net.load_state_dict({**state, "heads.1.weight": mg.zeros(2, 5)})
    with pytest.raises(RuntimeError, match=r"size mismatch for 'heads\.1\.weight'"):
        net.load_state_dict({"heads.1.weight": mg.zeros(2, 5)}, strict=False)


def test_failed_load_changes_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = {k: mg.zeros(*v.shape) for k, v in net.state_dict().items()}
    state["block.scale"] = mg.zeros(7)
    with pytest.raises(RuntimeError):
        net.load_state_dict(state)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])


def test_load_state_dict_non_strict_reports_keys():
    layer = nn.Linear(2, 2)
    result = layer.load_state_dict({"weight": np.zeros((2, 2)), "other": np.zeros(1)},
                                   strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert np.all(layer.weight.numpy() == 0)


def test_train_and_eval_propagate_to_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert net.training and not net.block.norm.training


def test_zero_grad_sets_gradients_to_none(rng):
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    model(mg.tensor(rng.standard_normal((4, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_moves_parameters_and_buffers_in_place_and_back(rng):
    net = Net()
    params_before = list(net.parameters())
    values = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    assert net.to("strict:device1") is net
    # The same Parameter objects (an optimizer holding them keeps working), moved.
    assert all(a is b for a, b in zip(net.parameters(), params_before, strict=True))
    for name, t in net.state_dict().items():
        assert t.device == mg.device("strict:device1"), name
        np.testing.assert_array_equal(t.numpy(), values[name])
    out = net(mg.tensor(rng.standard_normal((5, 2)), dtype=mg.float32, device="strict:device1"))
    assert out[0].device == mg.device("strict:device1")
    net.to("cpu")
    assert all(p.device == mg.device("cpu") for p in net.parameters())
    assert all(b.device == mg.device("cpu") for b in net.buffers())


def test_to_casts_floating_tensors_and_keeps_gradients(rng):
    layer = nn.Linear(2, 2)
    layer(mg.tensor(rng.standard_normal((3, 2)), dtype=mg.float32)).sum().backward()
    layer.to(dtype=mg.float64)
    assert layer.weight.dtype == mg.float64 and layer.weight.grad.dtype == np.float64
    layer.to("strict:device1", mg.float32)
    assert layer.weight.device == mg.device("strict:device1")
    assert layer.weight.dtype == mg.float32


def test_requires_grad_freezes_parameters():
    model = nn.Linear(2, 2).requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4


def test_repr_is_a_readable_tree():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Sequential(nn.Flatten(), nn.Linear(8, 2, bias=False)),
                          nn.Dropout(0.25))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=False)\n"
        "  )\n"
        "  (3): Dropout(p=0.25)\n"
        ")")
    assert repr(nn.Parameter(mg.zeros(2))).startswith("Parameter containing:\ntensor(")


def test_parameter_is_a_tensor_and_ops_on_it_are_plain_tensors():
    p = nn.Parameter(mg.ones(3))
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf
    q = p * 2
    assert type(q) is mg.Tensor and not isinstance(q, nn.Parameter)
    assert not nn.Parameter(mg.ones(3), requires_grad=False).requires_grad


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_replacing_an_entry_keeps_its_place_in_the_order_as_in_pytorch():
    """Assigning a new child, parameter or buffer under an existing name keeps the entry
    where it was (PyTorch writes into the same dict); state_dict keys and Sequential's
    order follow."""
    torch = pytest.importorskip("torch")

    def build(lib):
        seq = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        seq.add_module("0", lib.nn.Linear(2, 3))        # replace the first layer
        seq[1] = lib.nn.Tanh()                            # and the second
        layer = seq[2]
        layer.weight = lib.nn.Parameter(layer.weight.detach() * 1)   # weight stays first
        bn = lib.nn.BatchNorm1d(3)
        bn.register_buffer("running_mean", lib.zeros(3))  # stays first among the buffers
        return seq, bn

    (seq, bn), (tseq, tbn) = build(mg), build(torch)
    assert [type(m).__name__ for m in seq] == [type(m).__name__ for m in tseq] == [
        "Linear", "Tanh", "Linear"]
    assert list(seq.state_dict()) == list(tseq.state_dict())
    assert [name for name, _ in seq.named_parameters()] == [
        name for name, _ in tseq.named_parameters()]
    assert list(bn.state_dict()) == list(tbn.state_dict())  # num_batches_tracked last


@pytest.mark.parametrize("container", ["Sequential", "ModuleList"])
def test_setitem_replaces_in_place_and_refuses_what_pytorch_refuses(container):
    make = getattr(nn, container)
    seq = make([nn.Linear(2, 2), nn.ReLU()]) if container == "ModuleList" else make(
        nn.Linear(2, 2), nn.ReLU())
    seq[-1] = nn.Tanh()
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh"]
    with pytest.raises(IndexError, match="index 2 is out of range for 2 modules"):
        seq[2] = nn.ReLU()
    with pytest.raises(TypeError, match="expected a Module, got int"):
        seq[0] = 3
