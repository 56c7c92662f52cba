"""The numpy backprop core: the course's math and the interfaces plugins implement.

Imports numpy and the standard library only (a test enforces it); Hydra and
MLflow belong to the runner.
"""
