"""The historian's errors: a store that cannot be reached or written, a query that is wrong."""


class StoreUnavailableError(Exception):
    """The store cannot be written or read now (database down, disk full): retry later."""


class QueryError(Exception):
    """A query the user got wrong (unknown point, reversed range): say what and what to do."""
