"""The HTTP side of the service: routes, request parsing, error mapping, CORS."""
