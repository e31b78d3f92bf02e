"""The per-frame forecasting core: settings, then validate -> track -> window -> predict ->
check output -> counts. Pure Python (no rclpy): the predictor node, offline bag evaluation and
the load benchmark all run frames through ``ForecastCore``, so live and offline agree."""
