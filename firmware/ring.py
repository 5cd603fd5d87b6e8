"""A bounded FIFO of encoded telemetry kept while the broker is unreachable."""


class Ring:
    """Fixed capacity; when full the oldest entry is dropped and counted in `dropped`.

    Entries are the encoded payloads (str), so a flush republishes exactly what was
    read, with its original seq and ts.
    """

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("ring capacity must be >= 1")
        self._items = [None] * capacity  # preallocated: no growth on the board's heap
        self._head = 0  # index of the oldest entry
        self._count = 0
        self.dropped = 0

    def __len__(self):
        return self._count

    def push(self, item):
        """Appends `item`; returns True when an older entry had to be dropped for it."""
        size = len(self._items)
        dropped = self._count == size
        if dropped:
            self._head = (self._head + 1) % size
            self._count -= 1
            self.dropped += 1
        self._items[(self._head + self._count) % size] = item
        self._count += 1
        return dropped

    def peek(self):
        """The oldest entry (None when empty); it stays until `pop` after a confirmed send."""
        return self._items[self._head] if self._count else None

    def pop(self):
        if not self._count:
            raise IndexError("pop from an empty ring")
        item = self._items[self._head]
        self._items[self._head] = None
        self._head = (self._head + 1) % len(self._items)
        self._count -= 1
        return item
