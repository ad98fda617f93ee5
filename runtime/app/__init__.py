"""The composition root: a session (world, virtual clock, source, observer) and the plugins
that register its phases and panels. The CLI only parses arguments and calls in here."""
