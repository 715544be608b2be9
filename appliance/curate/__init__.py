"""Data curation: exact and near-duplicate detection (MinHash + LSH, numpy) and cheap quality filters."""

from appliance.curate.minhash import LSHIndex, MinHasher, band_keys, jaccard, optimal_params
from appliance.curate.quality import REASONS, check

__all__ = ["REASONS", "LSHIndex", "MinHasher", "band_keys", "check", "jaccard", "optimal_params"]
