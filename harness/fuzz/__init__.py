"""`tlsdiff fuzz`: differential fuzzing of the TLS handshake across Go releases.

Stimuli are cases made in memory from a few base scenarios and the Python peer's
misbehaviour knobs, drawn from the knobs' JSON schemas (`values`, `bases`,
`generate`); each runs on every release at once through one `Run`, and what the
releases did is reduced to an `Outcome`: the partition of the releases into
agreement classes, who accepted, which Go peer failed (`outcome`). Outcomes no
known case shows are findings, grouped by kind and partition, minimized
(`minimize`) and written as case files with findings.json (`findings`); `campaign`
drives it, `command` is the CLI. docs/fuzz.md says how to use it.
"""
