"""Chat transports: each turns its channel's messages into handlers.base.Inbound and renders Replies."""
