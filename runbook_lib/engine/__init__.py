"""The Docker engine: connection, transport, inventory, logs, actions, audit."""
