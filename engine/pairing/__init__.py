"""Pairing: the appliance speaks TLS, hands a device a code, and the desktop uses it as one more backend.

`tls` makes and reads the appliance's certificate; `code` writes and reads pairing codes; `appliance`
issues a device's key with its code; `remotes` keeps the desktop's paired servers (encrypted, pinned);
`client` talks HTTPS to one of them with its certificate pinned.
"""
