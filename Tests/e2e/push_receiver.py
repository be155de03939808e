"""An HTTPS push-notification receiver (Firebase Cloud Messaging shapes) for the e2e tests.

It plays the three endpoints a gateway's push forwarder talks to, on 127.0.0.1 with a free port:

- ``POST /token``: the OAuth 2.0 JWT bearer grant. The assertion must be signed (RS256) with the private key of
  the service account this receiver generated, name the receiver's ``/token`` URL as audience, the account's
  e-mail as issuer, the messaging scope, and not be expired. Answers an access token; a refused assertion gets
  400 and is recorded in ``refusals``.
- ``POST /v1/projects/<project>/messages:send``: HTTP v1, with ``Authorization: Bearer <a token it issued>``.
- ``POST /fcm/send``: the legacy protocol, with ``Authorization: key=<server_key>``.

Its certificate is issued by a CA made for it (``ca_pem``); the gateway under test is told to trust that CA.
Every accepted message is recorded with its arrival time (``time.monotonic()``); ``set_unavailable`` makes the
send endpoints answer 503 for a while.

    with PushReceiver() as receiver:
        account_json = receiver.service_account_json("my-project")   # what a user uploads
        ...
        receiver.wait_for(lambda r: r.messages("DevicesAndTopics"), timeout=10)
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MESSAGING_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICES_AND_TOPICS = "DevicesAndTopics"
# Accepted difference between the gateway's clock and ours for `iat`.
CLOCK_SKEW = 60.0
# A request body larger than this is refused (413): messages are a few hundred bytes.
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class PushMessage:
    """One accepted message."""

    topic: str
    data: dict[str, str]
    path: str  # "/fcm/send" or "/v1/projects/<project>/messages:send"
    project: str | None  # the HTTP v1 project, None for the legacy protocol
    arrived: float  # time.monotonic()


@dataclass(frozen=True)
class Refusal:
    """One request answered with an error, and why."""

    path: str
    status: int
    reason: str
    arrived: float


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class PushReceiver:
    def __init__(
        self,
        server_key: str = "e2e-legacy-server-key",
        token_lifetime: int = 3600,
        client_email: str = "push@rampart-e2e.example.test",
    ) -> None:
        self.server_key = server_key
        self.token_lifetime = token_lifetime
        self.client_email = client_email
        self._dir = Path(tempfile.mkdtemp(prefix="push-receiver-"))
        self.ca_pem, cert_path, key_path = self._make_certificates(self._dir)
        self._account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.account_key_id = secrets.token_hex(20)

        self._cond = threading.Condition()
        self._messages: list[PushMessage] = []
        self._refusals: list[Refusal] = []
        self._tokens: dict[str, float] = {}  # access token -> expiry (time.time())
        self._token_requests = 0
        self._unavailable_until: float | None = None  # time.monotonic(); inf = until set_available()

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        self._server = _TLSServer(("127.0.0.1", 0), _handler_for(self), context)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-receiver", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ what the tests use

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def ca_file(self) -> str:
        """The CA certificate as a file, for clients that take a path (requests' `verify=`)."""
        path = self._dir / "ca.pem"
        if not path.exists():
            path.write_text(self.ca_pem)
        return str(path)

    def service_account_json(self, project_id: str = "rampart-e2e") -> str:
        """The service-account key file a user would upload, whose `token_uri` is this receiver's `/token`."""
        private_key = self._account_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        return json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": self.account_key_id,
                "private_key": private_key,
                "client_email": self.client_email,
                "client_id": "100000000000000000000",
                "auth_uri": f"{self.base_url}/auth",
                "token_uri": self.token_uri,
            },
            indent=2,
        )

    def messages(self, topic: str | None = None) -> list[PushMessage]:
        """Accepted messages in arrival order, all or those of one topic."""
        with self._cond:
            return [m for m in self._messages if topic is None or m.topic == topic]

    @property
    def refusals(self) -> list[Refusal]:
        with self._cond:
            return list(self._refusals)

    @property
    def token_requests(self) -> int:
        with self._cond:
            return self._token_requests

    def wait_for(self, predicate: Callable[["PushReceiver"], Any], timeout: float = 10.0) -> Any:
        """Waits until `predicate(receiver)` is truthy and returns its value; raises TimeoutError after `timeout`.
        It is evaluated again after every request and at least every 0.1 s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                # The predicate may call messages() etc.: the condition's lock is re-entrant.
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"push receiver: condition not met within {timeout} s "
                        f"({len(self._messages)} messages, {len(self._refusals)} refusals)"
                    )
                self._cond.wait(min(remaining, 0.1))

    def set_unavailable(self, seconds: float | None = None) -> None:
        """The send endpoints answer 503 for `seconds` (None: until set_available())."""
        with self._cond:
            self._unavailable_until = float("inf") if seconds is None else time.monotonic() + seconds

    def set_available(self) -> None:
        with self._cond:
            self._unavailable_until = None

    def revoke_tokens(self) -> None:
        """Forgets every issued access token: sends with them get 401 until a new one is fetched."""
        with self._cond:
            self._tokens.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "PushReceiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints

    def _answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict]:
        if method != "POST":
            return self._refuse(path, 405, f"method {method}")
        if path == "/token":
            return self._token(body)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        authorization = headers.get("Authorization") or ""
        if path == "/fcm/send":
            if authorization != f"key={self.server_key}":
                return self._refuse(path, 401, f"authorization {authorization!r} is not the server key")
            return self._send(path, None, content_type, body, legacy=True)
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "v1" and parts[2] == "projects" and parts[4] == "messages:send":
            token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else None
            with self._cond:
                expiry = self._tokens.get(token) if token else None
            if expiry is None or expiry <= time.time():
                return self._refuse(path, 401, "no valid Bearer token")
            return self._send(path, parts[3], content_type, body, legacy=False)
        return self._refuse(path, 404, "no such endpoint")

    def _send(self, path: str, project: str | None, content_type: str, body: bytes, legacy: bool) -> tuple[int, dict]:
        with self._cond:
            until = self._unavailable_until
            if until is not None and time.monotonic() >= until:
                self._unavailable_until = until = None
        if until is not None:
            return self._refuse(path, 503, "unavailable (set_unavailable)")
        if content_type != "application/json":
            return self._refuse(path, 400, f"content type {content_type!r}")
        try:
            document = json.loads(body)
            if legacy:
                to, data = document["to"], document["data"]
                if not isinstance(to, str) or not to.startswith("/topics/"):
                    raise ValueError(f"'to' is {to!r}, not /topics/<topic>")
                topic = to[len("/topics/") :]
            else:
                message = document["message"]
                topic, data = message["topic"], message["data"]
            if not isinstance(topic, str) or not topic:
                raise ValueError("no topic")
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise ValueError("data is not a map of strings")
        except (ValueError, KeyError, TypeError) as error:
            return self._refuse(path, 400, f"malformed message: {error}")
        with self._cond:
            self._messages.append(PushMessage(topic, data, path, project, time.monotonic()))
            number = len(self._messages)
            self._cond.notify_all()
        if legacy:
            return 200, {"message_id": number}
        return 200, {"name": f"projects/{project}/messages/{number}"}

    def _token(self, body: bytes) -> tuple[int, dict]:
        with self._cond:
            self._token_requests += 1
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != [JWT_BEARER_GRANT]:
            return self._refuse("/token", 400, f"grant_type {form.get('grant_type')!r}", error="unsupported_grant_type")
        assertion = (form.get("assertion") or [""])[0]
        problem = self._check_assertion(assertion)
        if problem:
            return self._refuse("/token", 400, problem, error="invalid_grant")
        token = secrets.token_urlsafe(24)
        with self._cond:
            self._tokens[token] = time.time() + self.token_lifetime
            self._cond.notify_all()
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def _check_assertion(self, assertion: str) -> str | None:
        """Why `assertion` is not acceptable, or None."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "the assertion is not a JWT of three parts"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError as error:
            return f"the assertion cannot be decoded: {error}"
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            return f"header {header!r} is not RS256/JWT"
        if header.get("kid") != self.account_key_id:
            return f"kid {header.get('kid')!r} is not the account's key id"
        try:
            self._account_key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "bad signature"
        now = time.time()
        if claims.get("aud") != self.token_uri:
            return f"aud {claims.get('aud')!r} is not {self.token_uri}"
        if claims.get("iss") != self.client_email:
            return f"iss {claims.get('iss')!r} is not {self.client_email}"
        if MESSAGING_SCOPE not in str(claims.get("scope", "")).split():
            return f"scope {claims.get('scope')!r} lacks {MESSAGING_SCOPE}"
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "iat/exp are not integers"
        if exp <= now:
            return "expired"
        if iat > now + CLOCK_SKEW:
            return "issued in the future"
        if exp - iat > 3600:
            return "valid for more than an hour"
        return None

    def _refuse(self, path: str, status: int, reason: str, error: str | None = None) -> tuple[int, dict]:
        with self._cond:
            self._refusals.append(Refusal(path, status, reason, time.monotonic()))
            self._cond.notify_all()
        return status, {"error": error or reason}

    # ------------------------------------------------------------------ certificates

    @staticmethod
    def _make_certificates(folder: Path) -> tuple[str, str, str]:
        """A CA (PEM text) and a server certificate for 127.0.0.1/localhost that it issued (files)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Push receiver e2e CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = folder / "server.pem", folder / "server-key.pem"
        cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        return ca.public_bytes(serialization.Encoding.PEM).decode("ascii"), str(cert_path), str(key_path)


class _TLSServer(ThreadingHTTPServer):
    """Accepts plain TCP and does the TLS handshake in the connection's own thread, so that a client that stalls
    in the handshake cannot hold up the others."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        self.tls_context = context
        super().__init__(address, handler)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        request.settimeout(30)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust our CA, or went away
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections reset by clients are expected; failures show in the tests' assertions


def _handler_for(receiver: PushReceiver) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": "body too large"}, close=True)
                return
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            status, answer = receiver._answer(self.command, path, self.headers, body)
            self._reply(status, answer)

        def _reply(self, status: int, answer: dict, close: bool = False) -> None:
            payload = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _handle
        do_GET = _handle
        do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
