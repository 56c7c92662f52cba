"""backprop-lab's own plugins: small classes behind the protocols in runner.core.protocols."""
