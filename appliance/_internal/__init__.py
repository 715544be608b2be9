"""Low-level helpers shared by every subsystem: crypto, atomic files, hashing, locks, subprocess."""
