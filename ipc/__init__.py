"""Inter-process plumbing: wire protocol, socket addresses, RPC, the broker, routing."""
