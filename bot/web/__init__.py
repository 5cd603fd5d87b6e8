"""The HTTP side: webhooks for the chat transports and the health check (later the dashboard)."""
