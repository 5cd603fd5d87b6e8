"""The demand-forecasting service for the Jetson edge device (runs on any CPU too)."""
