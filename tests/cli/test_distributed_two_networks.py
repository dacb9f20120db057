"""A method that trains two networks prepares each through the run context, and under 2-process DDP both
networks' gradients are synchronised: every rank ends with the same weights of both. A third network the
method does not prepare is the control: its ranks, each on its own shard, drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from tests.conftest import cli_env

SCRIPT = '''
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from neuralab.config import RunConfig, field
from neuralab.contracts import Method
from neuralab.engine import fit
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.recipes.recipe import Recipe
from neuralab.registry import register_method


@dataclass(frozen=True)
class TwoNetsConfig:
    lr: float = field(0.1, "Learning rate of both networks.", gt=0)


@register_method("two-nets-toy", config=TwoNetsConfig)
class TwoNets(Method):
    def __init__(self, cfg, model, data, ctx):
        self.a = model  # prepared by the engine
        torch.manual_seed(1)
        self.b = ctx.prepare(MLP(MLPConfig(in_features=64)))  # prepared by the method
        torch.manual_seed(1)
        self.control = MLP(MLPConfig(in_features=64))  # not prepared: trains on its rank's shard alone
        nets = (self.a, self.b, self.control)
        self.opts = [torch.optim.SGD(n.parameters(), lr=cfg.lr) for n in nets]
        self.nets = nets

    def step(self, batch):
        x, y = batch
        for net, opt in zip(self.nets, self.opts):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return {}

    def evaluate(self):
        return {}

    def state_dict(self):
        return {"a": self.a.state_dict(), "b": self.b.state_dict(), "control": self.control.state_dict()}

    def load_state_dict(self, state):
        for name in ("a", "b", "control"):
            getattr(self, name).load_state_dict(state[name])


recipe = Recipe(name="two-nets", family="test", summary="", curriculum="", model="mlp", method="two-nets-toy",
                data="digits", data_config={"batch_size": 64, "image_size": 8, "train_limit": 640},
                run=RunConfig(steps=8, threads=1, device="cpu"))
run = fit(recipe, out=sys.argv[1], progress=False)
tensors = {f"{k}.{n}": t.contiguous() for k, sd in run.method.state_dict().items() for n, t in sd.items()}
save_file(tensors, f"{sys.argv[1]}/weights-rank{run.procs.rank}.safetensors")
'''


def test_both_networks_of_a_method_are_synchronised_under_ddp(tmp_path: Path):
    script = tmp_path / "two_nets.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(out)], capture_output=True, text=True, env=cli_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    ranks = [load_file(str(out / f"weights-rank{r}.safetensors")) for r in (0, 1)]
    trained = [k for k in ranks[0] if k.startswith(("a.", "b."))]
    assert len(trained) == 2 * len([k for k in ranks[0] if k.startswith("control.")]) > 0
    for key in trained:
        assert torch.equal(ranks[0][key], ranks[1][key]), f"{key}: the ranks' gradients were not synchronised"
    # the control trained on each rank's own shard, so its ranks disagree (else the test could not fail)
    assert any(not torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0] if k.startswith("control."))
