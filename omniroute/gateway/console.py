"""The application log, kept for the dashboard and written to a file.

``ConsoleLog`` is a ``logging.Handler`` holding the newest ``capacity``
records in a ring (a deque with a maximum length: appending is O(1) and the
memory is bounded); each record gets a sequence number, so a reader can ask
for what came after the last one it saw (the dashboard's follow mode).

``LogFile`` writes the same records to a file that rotates by size (the
``log.file``, ``log.max-bytes`` and ``log.backups`` settings). Records go
through a bounded queue to a thread of their own, so whoever logs never
waits for the disk; when the queue is full a record is dropped and counted.

The gateway never logs secrets (keys, passwords, tokens, bodies); these
handlers only keep what was logged.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import queue
import threading
from typing import Any

from omniroute.config.options import LogOptions

LOGGER = "omniroute"  # every module logs under this name
DEFAULT_CAPACITY = 2000
MAX_MESSAGE = 4000  # characters of one record kept (a long traceback is cut)
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConsoleLog(logging.Handler):
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self._ring: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._seq = 0
        self._text = logging.Formatter()

    @property
    def last_seq(self) -> int:
        return self._seq

    def __len__(self) -> int:
        return len(self._ring)

    def emit(self, record: logging.LogRecord) -> None:
        # ``handle`` holds this handler's lock here: sequence numbers and the
        # ring stay in step even when the writer thread logs too.
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self._text.formatException(record.exc_info)
            self._seq += 1
            self._ring.append(
                {
                    "seq": self._seq,
                    "ts": record.created,
                    "level": record.levelname.lower(),
                    "logger": record.name,
                    "message": message[:MAX_MESSAGE],
                }
            )
        except Exception:
            self.handleError(record)

    def entries(
        self, level: str | None = None, text: str | None = None, after: int = 0, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` records after sequence ``after``, at ``level``
        or above, whose message or logger contains ``text`` (any case);
        oldest first."""
        floor = LEVELS.get(level or "debug", 10)
        needle = (text or "").lower()
        with self.lock or threading.Lock():
            snapshot = list(self._ring)
        found = [
            e
            for e in snapshot
            if e["seq"] > after
            and LEVELS.get(e["level"], 0) >= floor
            and (not needle or needle in e["message"].lower() or needle in e["logger"].lower())
        ]
        return found[-limit:] if limit > 0 else []


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Hands records to the file thread; a full queue drops (and counts)."""

    def __init__(self, records: queue.Queue[Any]) -> None:
        super().__init__(records)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class LogFile:
    """The rotating log file, (re)opened whenever its settings change."""

    QUEUE_MAX = 10_000

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(LOGGER)
        self._options: LogOptions | None = None
        self._front: _DroppingQueueHandler | None = None
        self._listener: logging.handlers.QueueListener | None = None
        self._file: logging.handlers.RotatingFileHandler | None = None

    @property
    def queued(self) -> int:
        return self._front.queue.qsize() if self._front is not None else 0  # type: ignore[attr-defined]

    @property
    def dropped(self) -> int:
        return self._front.dropped if self._front is not None else 0

    @property
    def path(self) -> str | None:
        return self._options.file if self._options is not None else None

    def apply(self, options: LogOptions) -> None:
        """Write to the file ``options`` name (or stop writing one)."""
        if options == self._options:
            return
        self.close()
        if not options.file:
            return
        try:
            target = logging.handlers.RotatingFileHandler(
                options.file, maxBytes=options.max_bytes, backupCount=options.backups,
                encoding="utf-8", delay=True,
            )  # fmt: skip
        except OSError as err:
            self._logger.warning("cannot write the log file %s: %s", options.file, err)
            return
        target.setFormatter(logging.Formatter(_FORMAT))
        records: queue.Queue[Any] = queue.Queue(self.QUEUE_MAX)
        self._front = _DroppingQueueHandler(records)
        self._listener = logging.handlers.QueueListener(records, target)
        self._file = target
        self._options = options
        self._listener.start()
        self._logger.addHandler(self._front)

    def close(self) -> None:
        """Stop writing the file; what is queued is written first."""
        if self._front is not None:
            self._logger.removeHandler(self._front)
        if self._listener is not None:
            self._listener.stop()
        if self._file is not None:
            self._file.close()
        self._front = self._listener = self._file = None
        self._options = None
