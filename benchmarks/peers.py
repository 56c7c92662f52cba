"""The peers, each training the same network (sigmoid hidden layers, softmax output, L2 on the
weights, lam/(2m)) on the same data in the same dtype: scikit-learn's MLPClassifier, PyTorch
CPU autograd, a plain per-sample numpy loop, and the bare matrix products of one forward and
backward pass (the BLAS floor of a full-batch epoch).
"""
from __future__ import annotations

import warnings

import numpy as np

from benchmarks.timing import seconds


def sklearn_epoch(X, y, hidden, batch_size, lam, epochs=(1, 3), lr=0.1) -> float:
    """Seconds per epoch of MLPClassifier(solver='sgd', no momentum), from the difference of two
    fits of epochs[0] and epochs[1] epochs, which cancels its set-up."""
    from sklearn.neural_network import MLPClassifier

    def fit(n):
        mlp = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="logistic", solver="sgd", alpha=lam,
                            batch_size=batch_size, learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False,
                            shuffle=batch_size < X.shape[0], max_iter=n, tol=0.0, n_iter_no_change=10**9,
                            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "maximum iterations reached"
            return seconds(lambda: mlp.fit(X, y))

    return (fit(epochs[1]) - fit(epochs[0])) / (epochs[1] - epochs[0])


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchNet:
    """The network in PyTorch (nn.Linear layers), trained by autograd and torch.optim.SGD."""

    def __init__(self, X, y, sizes, lam, dtype):
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
        self.torch = torch
        kind = torch.float64 if dtype == np.float64 else torch.float32
        layers = []
        for l, (s_in, s_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(s_in, s_out))
            if l < len(sizes) - 2:
                layers.append(torch.nn.Sigmoid())
        self.net = torch.nn.Sequential(*layers).to(kind)
        self.X, self.y = torch.tensor(X, dtype=kind), torch.tensor(y)
        self.weights = [layer.weight for layer in self.net if isinstance(layer, torch.nn.Linear)]
        self.c = lam / (2 * X.shape[0])
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.1)
        self.loss = torch.nn.CrossEntropyLoss()

    def step(self, rows=slice(None)):
        """Forward, J (data term + L2 penalty), backward, update."""
        self.optimizer.zero_grad()
        J = self.loss(self.net(self.X[rows]), self.y[rows]) + self.c * sum((W * W).sum() for W in self.weights)
        J.backward()
        self.optimizer.step()

    def epoch(self, epochs: int) -> float:
        """Seconds per full-batch epoch."""
        return seconds(lambda: [self.step() for _ in range(epochs)], epochs)

    def per_sample(self, m: int) -> float:
        """Seconds per sample of a per-sample SGD epoch over the first m rows."""
        return seconds(lambda: [self.step(slice(i, i + 1)) for i in range(m)], m)


def plain_numpy_sgd(X, Y, Theta, lr, c):
    """Per-sample SGD written plainly in numpy: 1-D vectors, np.outer, one update per row."""
    L = len(Theta)
    for r in range(X.shape[0]):
        a = [X[r]]
        for l, T in enumerate(Theta):
            z = T[:, 1:] @ a[-1] + T[:, 0]
            if l < L - 1:
                a.append(1.0 / (1.0 + np.exp(-z)))
            else:
                e = np.exp(z - z.max())
                a.append(e / e.sum())
        delta = a[-1] - Y[r]
        for l in range(L - 1, -1, -1):
            T = Theta[l]
            below = (T[:, 1:].T @ delta) * a[l] * (1.0 - a[l]) if l > 0 else None
            T[:, 1:] -= lr * (np.outer(delta, a[l]) + c * T[:, 1:])
            T[:, 0] -= lr * delta
            delta = below


class BlasFloor:
    """The matrix products of one full-batch forward and backward pass, and nothing else:
    z(l+1) = a(l) W(l)^T, Delta(l) = delta(l+1)^T a(l), delta(l) = delta(l+1) W(l), with samples as
    rows (scikit-learn's and PyTorch's layout) or as columns (ours); the floor is the faster."""

    def __init__(self, m, sizes, dtype, rng, columns=False):
        shape = (lambda s: (s, m)) if columns else (lambda s: (m, s))
        self.columns = columns
        self.a = [rng.standard_normal(shape(s)).astype(dtype) for s in sizes]
        self.W = [rng.standard_normal((s_out, s_in)).astype(dtype) for s_in, s_out in zip(sizes[:-1], sizes[1:])]
        self.delta = [rng.standard_normal(shape(s)).astype(dtype) for s in sizes]

    def epoch(self, epochs: int) -> float:
        def once():
            for _ in range(epochs):
                for l, W in enumerate(self.W):
                    if self.columns:
                        np.matmul(W, self.a[l], out=self.a[l + 1])
                    else:
                        np.matmul(self.a[l], W.T, out=self.a[l + 1])
                for l in range(len(self.W) - 1, -1, -1):
                    if self.columns:
                        self.delta[l + 1] @ self.a[l].T
                        if l > 0:
                            np.matmul(self.W[l].T, self.delta[l + 1], out=self.delta[l])
                    else:
                        self.delta[l + 1].T @ self.a[l]
                        if l > 0:
                            np.matmul(self.delta[l + 1], self.W[l], out=self.delta[l])
        return seconds(once, epochs)
