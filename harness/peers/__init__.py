"""The peers tlsdiff drives: go-peer built per Go release, and the Python peer."""
