"""PyTorch twins of jgan's models and training step, for benchmarks only (never imported by jgan).

Same layers, initialisation scale, optimizer, loss and batch as jgan's `seed_dcgan`, `dcgan`
(32 px) and `mlp2d`; the step is jgan's algorithm: one D update on real and G(z), then one G
update through the updated D, reusing that G(z) (the classic DCGAN loop).
"""
import torch
from torch import nn


def _glorot(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _normal(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class _Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def seed_dcgan():
    bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)  # Keras' settings, as in jgan.
    act = lambda: nn.LeakyReLU(0.3)
    G = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256, eps=1e-3, momentum=0.01),
        act(), _Reshape(256, 7, 7),
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), bn(128), act(),
        nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), bn(64), act(),
        nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), act(), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2), act(), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
    G.apply(_glorot)
    D.apply(_glorot)
    return G, D, 100, (1, 28, 28)


def dcgan32(channels=3, width=64):
    c = width * 4
    G = nn.Sequential(
        nn.Linear(100, 4 * 4 * c, bias=False), nn.BatchNorm1d(4 * 4 * c), nn.ReLU(), _Reshape(c, 4, 4),
        nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(),
        nn.ConvTranspose2d(c // 2, c // 4, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 4), nn.ReLU(),
        nn.ConvTranspose2d(c // 4, channels, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2),
        nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 4), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * 4 * width * 4, 1))
    G.apply(_normal)
    D.apply(_normal)
    return G, D, 100, (channels, 32, 32)


class _Maxout(nn.Module):
    def __init__(self, n_in, n_out, pieces=5):
        super().__init__()
        self.linear, self.shape = nn.Linear(n_in, n_out * pieces), (n_out, pieces)

    def forward(self, x):
        return self.linear(x).reshape(x.shape[0], *self.shape).amax(-1)


def mlp2d():
    layers = []
    for n_in in (2, 400, 400, 400):
        layers += [nn.Linear(n_in, 400, bias=False), nn.BatchNorm1d(400, momentum=0.1), nn.ReLU()]
    G = nn.Sequential(*layers, nn.Linear(400, 2))
    D = nn.Sequential(_Maxout(2, 200), _Maxout(200, 200), _Maxout(200, 200), nn.Linear(200, 1))
    return G, D, 2, (2,)


MODELS = {"seed_dcgan": seed_dcgan, "dcgan32": dcgan32, "mlp2d": mlp2d}


def make_step(G, D, z_dim, lr=2e-4, bf16: bool = False):
    """A non-saturating GAN step: (real batch) -> (d_loss, g_loss). `bf16`: the forward passes
    under `torch.autocast("cpu", torch.bfloat16)` (PyTorch's mixed precision: convolutions and
    linear layers in bf16), D's logits and the losses in float32, as jgan's "bfloat16" policy."""
    g_opt = torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))
    softplus = nn.functional.softplus
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    logits = lambda x: D(x).float()

    def step(real):
        z = torch.randn(real.shape[0], z_dim)
        with autocast():
            fake = G(z)
            d_loss = softplus(-logits(real)).mean() + softplus(logits(fake.detach())).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        with autocast():
            g_loss = softplus(-logits(fake)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        return d_loss.item(), g_loss.item()

    return step
