"""Readers: the only code that reads input files. They return frames of text plus origin; they never write."""
