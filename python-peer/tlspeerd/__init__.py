"""tlspeerd: tlspeer served as a tlsdiff peer over the control protocol
(go-peer/PROTOCOL.md). Run as `python -I -m tlspeerd`."""
