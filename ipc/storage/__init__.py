"""Files the processes keep in the data dir: SQLite opened with recovery from
corruption, and a generic durable FIFO queue on top of it."""
