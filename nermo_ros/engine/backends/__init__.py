"""Backends that run one compiled adapt-and-predict step per batch bucket."""
