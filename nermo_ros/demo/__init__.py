"""Pure parts of `nermo-ros demo`: live forecast error bookkeeping and the final plot."""
