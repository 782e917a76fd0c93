"""Redis adapter: broker, result backend, keys, Lua scripts, connections, embedded server."""
