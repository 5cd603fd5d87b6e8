"""What members and admins can do, one module per capability, independent of the chat channel."""
