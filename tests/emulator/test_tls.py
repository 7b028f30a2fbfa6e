"""``--tls``: the self-signed certificate and the server side of the handshake."""

import socket
import ssl
import threading

from emulator.tls import self_signed


def exchange_one_byte(server_context: ssl.SSLContext, cafile: str) -> ssl.SSLSession:
    """A TLS connection on loopback that sends one byte each way; the client's session after."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        with server_context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(tls.recv(1))

    server = threading.Thread(target=serve)
    server.start()
    client_context = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
            client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"x")
            assert tls.recv(1) == b"x"
            session = tls.session
    finally:
        server.join(30)
        listener.close()
    assert session is not None
    return session


def test_the_server_sends_no_session_tickets_so_a_client_reads_nothing_before_its_response(
    tmp_path,
):
    certificate = self_signed("127.0.0.1", tmp_path)
    # TLS 1.3 tickets come after the handshake, before the reply: a client that read the reply
    # has them, if any were sent (``has_ticket``).
    default = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    default.load_cert_chain(certificate.certfile, certificate.keyfile)
    assert exchange_one_byte(default, str(certificate.certfile)).has_ticket

    session = exchange_one_byte(certificate.server_context(), str(certificate.certfile))
    assert not session.has_ticket
