"""Dataset plugins: each load(rng) returns seeded, stratified, train-scaled Splits (runner.core.protocols).

Config names: digits, iris, breast_cancer, wine (bundled with scikit-learn), xor, moons,
spirals (generated from the rng), csv (a file of your own).
"""
from plugins.datasets.bundled import BreastCancer, Digits, Iris, Wine
from plugins.datasets.csv import CsvDataset
from plugins.datasets.synthetic import Moons, Spirals, Xor

__all__ = ["Digits", "Iris", "BreastCancer", "Wine", "Xor", "Moons", "Spirals", "CsvDataset"]
