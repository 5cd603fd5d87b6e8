"""The running assistant: the `coop` command, settings, wiring, transports, notifier and scheduler."""
