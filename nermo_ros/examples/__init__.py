"""Worked examples of consuming the forecasts (see docs/planners.md)."""
