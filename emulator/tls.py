"""``--tls``: a self-signed certificate made at start-up, so TLS handshakes cost what they cost.

The certificate is written to a directory the user is told about; clients trust it as their CA
(``curl --cacert``, ``SSL_CERT_FILE``, ``AWS_CA_BUNDLE`` for boto3, ``Endpoints(cafile=...)``).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certificate:
    certfile: Path  # PEM certificate: also the CA clients must trust
    keyfile: Path

    def server_context(self) -> ssl.SSLContext:
        """The servers' TLS context: this certificate, and no TLS 1.3 session tickets.

        A TLS 1.3 server sends its tickets after the handshake, unasked
        (https://docs.python.org/3/library/ssl.html#ssl.SSLContext.num_tickets). A threaded
        client, websockets' sync client among them (reportclient, the Locust users), has its
        reader thread wake on them and sit in an SSL read while the other thread writes the
        upgrade request on the same SSL object, which OpenSSL does not make safe (CPython issue
        137583 discusses the pattern). Once, on a busy machine, the test suite saw such a
        request never reach the server: the client waited, its reader thread in an SSL read.
        Without tickets the reader waits in ``select`` until the response comes. No client here
        resumes sessions, so nothing is lost.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        context.num_tickets = 0
        return context


def _alternative_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.append(x509.DNSName(host))
    else:
        if str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return names


def self_signed(host: str, directory: Path | None = None) -> Certificate:
    """A fresh key and a one-week certificate for ``host``, localhost and 127.0.0.1."""
    directory = directory or Path(tempfile.mkdtemp(prefix="timeoutlab-tls-"))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "timeoutlab emulator")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(_alternative_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "timeoutlab-cert.pem", directory / "timeoutlab-key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keyfile.chmod(0o600)
    return Certificate(certfile, keyfile)
