"""tlsdiff: a differential interop test harness for Go's crypto/tls."""
