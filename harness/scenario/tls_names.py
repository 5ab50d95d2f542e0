"""The TLS names a case may use: protocol versions, key exchange groups, cipher suites.

One list each, in Go's spelling. The case schema's enums are made from them (a
misspelt suite is refused when the case loads, not found `unsupported` on every
release), and tests/test_vocabulary.py holds them to what the Go peers report in
`hello`: the groups the peer can name, the suites each release knows.
"""
from __future__ import annotations

VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")

#: Named groups, by Go's CurveID names. A release that does not implement one gets it
#: by number (go-peer/curves.go), so a case can observe what the release does with it.
GROUPS: tuple[str, ...] = (
    "X25519", "P256", "P384", "P521", "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "MLKEM1024",
    "X25519Kyber768Draft00",
)

#: Every suite name tls.CipherSuites() and tls.InsecureCipherSuites() give, 1.19 on.
CIPHER_SUITES: tuple[str, ...] = (
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_RC4_128_SHA",
)
