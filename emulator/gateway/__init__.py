"""The asyncio servers: they own the sockets and the clock and ask the rules core what to do."""
