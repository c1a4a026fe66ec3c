"""What handlers log through `ctx.logger`, shown in the dev log: INFO and up, one line per record.

`ctx.logger` is `logging.getLogger("portable_fn.function.<name>")`. With no logging configured, Python
shows WARNING and up only (its last-resort handler), so `ctx.logger.info(...)` vanished under dev while
the clouds' log streams keep it. The dev host attaches this handler while it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

LOGGER = "portable_fn.function"


class FunctionLogs(logging.Handler):
    """Writes function log records to the dev log; `attach` while the host runs, `detach` after."""

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._log = log
        self._saved: tuple[int, bool] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
            function = record.name.removeprefix(LOGGER + ".")
            line = f"{stamp} {function} [log] {record.levelname} {record.getMessage()}"
            if record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            self._log(line)
        except Exception:
            self.handleError(record)

    def attach(self) -> None:
        logger = logging.getLogger(LOGGER)
        if self._saved is None:
            self._saved = (logger.level, logger.propagate)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.propagate = False  # shown once, here, not again by handlers the app configured
            logger.addHandler(self)

    def detach(self) -> None:
        logger = logging.getLogger(LOGGER)
        if self._saved is not None:
            logger.removeHandler(self)
            logger.setLevel(self._saved[0])
            logger.propagate = self._saved[1]
            self._saved = None
