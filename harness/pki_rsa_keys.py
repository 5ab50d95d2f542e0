"""The fixed RSA keys of the PKI's RSA leaves (2048-bit, e = 65537, PKCS#8).

cryptography cannot derive an RSA key from a seed, so these two keys were generated
once and are kept here, as Go's crypto/tls tests keep theirs (tls_test.go,
`testingKey`). They protect nothing: every checkout has them. "TESTING KEY" stands
for "PRIVATE KEY" so that secret scanners leave the file alone; `key_pem` puts it back.
"""
from __future__ import annotations

_KEYS: dict[str, str] = {
    "server-rsa": """\
-----BEGIN TESTING KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDAGu7GZZV/Yl0y
b1S156oD8+ZDoL67t9dSiIhy213htoeL3bEX4h7UVNR6bfgqn9rlabCEP8yZubfR
OCzopnXptnDD91xwui++EbIA8tYLyUn4osHHt/440TGQHBaTrUTRIbY8QDzcCjXO
kR6daBa3rcDFFl1EJaMjgl8B256UCLFif+acDfZhy3d00K7NGQOK4wOXK6BYIao+
cSA8FXOVHC6k3bwxRcFhX/4rXOkz3d+fiWlYP2NbA4U2c5WAKI0Mn6jpeMIHrmTR
k9H8EI1jpUfzPewaE4ZLAORd2+YJo3BneFpNlOAO2xAc3znwtP6RJ9/vvrN6iBhM
uaJtRNKXAgMBAAECggEAPEE2W6xJM+dabBNXcqbzQMIjm1qz+JU1SIHiqoP78mwa
H9itT1xxZxAkhTIxAM2bDxITd6e7OQxzh4AjNeXgXioHPLA9om4Dw44xUvLYCGJe
fUovlcE0UAXtkdH9ktxqFV6JlmRfsnTRY7VI8P5RAdPR/v+AyXs0rFKcEi0clDmK
lLZubGwHDYZ0u5/ubbPy3UsUog+yDt2naSmC40IEDM/7vtTr/zhenMiekrpeYy7Z
ikKX8ChZFFY0ZbumaVYVcwmMg4Xv8FP9EiT/IyHdYGkYPAURO+G8Jvz9OaaCKn/f
fNzGJeCwYzqdUxTYveNUPx5Q+oUcrO1Xn52GfVCJ4QKBgQDl8vTWh8s+QCp15PSe
iLgyDg54KCcG1/SD2kkrLdh/P2Ayv1bS4tXPuOY9RYgkrxukg/WC4qQ64GDF7t+8
VNWSGa+NmwVpFKBWkWJR8bJwh4vgerGfeVRbVGusPVdNHEkCLGwrb1tg+su6ESpH
3IvnoPohoJ4FhGmNn+KtNC/AhQKBgQDV3mtKoE9tvO8JziuK/cKyr7eT/NZrY8kL
AfV+b6pOqhIoPy+ZmbQRecIxVrNT6sPEIqZasZR3rTT+y3AHiOutxXgbisvGqfoc
uGveFwIZC6RUoHvLfskhY8Nx7fV7E0l3/Do5ftfUnKpam4vALgOAnY2i5n1lQXbo
Ko8MZsZfawKBgQCKrImRMxWT9hhlPu1zChqjPSzms7hNfUEdny/PFXfhzXOTRyby
SRAOlIBtZRhknyG5hkcyZsIKK7TQyW0uY67kzA6+BEYwB9tmOYkkx/EHwgbOGtAx
z3bbGT9SATA79Znl8KpPS3m9M6JXFPD9o3jP+JnAW9/QjfkmCs0mDTnbDQKBgQCf
AKGb9duXpqPBEnrk9wzNdD5z08JGTQWnHWm6+qIPofml2nQ1KkTpyTBLJj5k4WFy
bKBpRSUwZKHF3NIJiA5QP0Owllwx8yV0PNhVYZ25qSIfmMDw5e362QTxqwya2BgD
EI7pOBiWhXNRsdsQoiUQdhJbTilkImuY6Cs5+R76yQKBgFd1IVmgG2TjswckAPjG
tnETg/sJ/izk/jmwG7s57+vqCQyCnhGSvptjf0a5804eIQ017qtsfJNqfvLOPm40
xeGSO5yAUyBy7KTRE3/RbbD9AF9Z6FAvAUXnS4Rf4G3IIj29xhx4P0z23h/Nq7Ua
4kzSToedrefn+mIUGvrdCVq1
-----END TESTING KEY-----
""",
    "client-rsa": """\
-----BEGIN TESTING KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDWetq4rjsO33or
Rb/I2COyy0319Dl1GnZELbRJRBOaH5jJcJNAfxbWZFXvhcdNht3I1FjGrr5tE8FX
PeRa5s3SwjYjwlC6i/jZ8EVvrTQLGlf24WH6DxYUtp0w/2K3V1/svY+nZoYuCq78
dHnw71R++8k0CvF0tS6LCKy9spurg62/mCM/tPHN/uNF4LRfzMlXtc5dCkYAYPTr
Byz3nAYQesVfIMuVFNP+84zOFBDieV6w9s++pHuloHFFvCyvr1etrjMV1Y/E0dlO
KU3nppAZXIpfYjCVB/gdMQtKjjN8FlX0VbQmjSIVg1ibcCzOJdGINOH4ul4Qgez1
rNc+EMK9AgMBAAECggEAFW1IGQ+k7Ec0sgqBjqvTIytO4k2wCMwoOQb03iXsLGdQ
MP2rZFPeAPScpjVv9AWPdh8KsGyoLwb8d34CKHeq482NsZRZ0s0lgwZPNYkw7BQJ
aitZia0EqHSW7xxwbP8QYPsOFSv3pzVfhm6PeRu7zgTS9L1MInvwRqkK8tebWC68
c51QYfFaIPfvaJED2EPOcRTzVpwxkoUWlMQ+UvjATz6zyXe6R+d4KZuKO4I5qvaH
o+AB+zdqSLkeM2XueOQ9E2KTPFcaPU8nhIQVe8WyKZRBo2m4EqUMI8ORiqu2ftR2
z/2YkusufXCKhegxUhqOmMxpVWQMfD3s1YoDyWqFoQKBgQDt6BTkULCcJeAe7Muk
RBHKpBMluixh76nc49LvPAKMbQE1elLKhsigtEe+/98M/UJqKfgBWZPbK4ui5kGQ
Omel/iF6vkTKZHZWNpDiuGwB3Kk9w1U1wEjO0vqSN3CcepCmSWctKNqBJYUSl9Nd
kXYjhGg5CIj1nuNfTnMEqynxXQKBgQDmyqrnTLY6kTHw1Zm25k27CHfHTF2dbA6l
PC6i740bwjoSU3VOEZUDL3gIECvM2C0+llEgwEBHyrNIcZjIPOiabQs3AtTe+JbV
ide95a8Ex1qA6NRzc4dYGbXcHcoxKFS3mNn1PmYfX6SoKHnLxl0Ng268UfpXBeQ6
LOB8J6gg4QKBgQC5wpEthOOhyOEqxHJtnMjXlS1uM+QbxGq5kxpMumqzAxoCi7TB
dmSJNrseo+Oh3M5S3tpLE4qjg2jQlUF0QGZV8gxqLs6/yZmsz4ZpwN50xbtQAoky
IyW2eH42VRuU0w7HCGGLnW6fkJBLaEkdskqwiN5oSgXG431eGX8tkgh58QKBgQCP
4wz4FbiK/RjwuIsUH7OYhuf+Zhr7WXIsDEBbLxR/mPERmdzJpmaLzN190W8tUB2t
JpQ/4fxxheuOn9wMAwVVueRDEM3ckYmgakcKSpd6WDuRoRdLP1zDTYw3Ro9XZHik
2nQQ1S1gJAYJHOsKY4qCMU4ptMZp2O94YaA3Z5YHoQKBgQCxt+B0B24RqYkr0rM9
FTXY7ImCIcCrH+/efz9SBPGE7YZmYRphsGaE15OuxeQTq0MrxsCTMtTRxqArsKHU
CiLeTJ6r6pLKY8XEE41hHdUuV/UKSF/JbLMVn1iDZlli5H8IupwxprRWRHiSHo/C
kRCqdug+nPcDfQ6kTJ2dIM5HGA==
-----END TESTING KEY-----
""",
}

NAMES = tuple(_KEYS)


def key_pem(name: str) -> bytes:
    """The PKCS#8 PEM of the named leaf's key; KeyError for a leaf without an RSA key."""
    return _KEYS[name].replace("TESTING KEY", "PRIVATE KEY").encode()
