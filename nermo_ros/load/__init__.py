"""Load and soak benchmarks of the predictor node: many people, a fixed rate, churn, over DDS."""
