"""PyTorch's DDP tutorial (the torchrun form, backend "mpi"), run as written with `import baby as torch`."""

import os
import sys

import baby as torch
import baby.distributed as dist
import baby.nn as nn
import baby.optim as optim
from baby.nn.parallel import DistributedDataParallel as DDP


class ToyModel(nn.Module):
    def __init__(self):
        super(ToyModel, self).__init__()  # noqa: UP008 (the tutorial's spelling)
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def demo_basic():
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    print(f"Start running basic DDP example on rank {rank}.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(rank)
    model = ToyModel().to(device)
    ddp_model = DDP(model)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.05)
    torch.manual_seed(0)
    x, labels = torch.randn(20, 10), torch.randn(20, 5)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        outputs = ddp_model(x[rank::dist.get_world_size()])
        loss = loss_fn(outputs, labels[rank::dist.get_world_size()])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return rank, ddp_model, losses


def demo_checkpoint(rank, ddp_model, path):
    if rank == 0:
        torch.save(ddp_model.state_dict(), path)
    dist.barrier()
    map_location = {"cuda:%d" % 0: "cuda:%d" % rank}  # noqa: UP031 (the tutorial's spelling)
    ddp_model.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    dist.barrier()
    if rank == 0:
        os.remove(path)


if __name__ == "__main__":
    rank, ddp_model, losses = demo_basic()
    demo_checkpoint(rank, ddp_model, sys.argv[1])
    sums = [None] * dist.get_world_size()
    dist.all_gather_object(sums, [float(p.detach().double().sum()) for p in ddp_model.parameters()])
    assert all(s == sums[0] for s in sums), sums  # the replicas stayed identical
    total = torch.tensor(losses[-1])
    dist.all_reduce(total, op=dist.ReduceOp.AVG)
    if rank == 0:
        print(f"tutorial ok: mean loss {losses[0]:.4f} -> {total.item():.4f}")
    dist.destroy_process_group()
