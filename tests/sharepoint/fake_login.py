"""A fake Microsoft Entra ID token service: OpenID configuration and client-credentials tokens.

It checks what the real one checks for app-only tokens: the tenant, the client id, and either the
client secret or a client assertion JWT signed with the registered certificate's key (RS256 with an
x5t SHA-1 thumbprint, or PS256 with x5t#S256), addressed to the token endpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0b6e2b4c-1f4e-4a7e-9a3e-5d0c4f1a2b3c"
CLIENT_SECRET = "fake-client-secret-value"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed certificate registered on the fake app, with its key as PEM."""

    key_pem: str
    cert_pem: str
    sha1_thumbprint: str  # hex, as the Azure portal shows it
    sha256_thumbprint: str

    @classmethod
    def generate(cls) -> ClientCertificate:
        """A fresh 2048-bit RSA key and a one-day self-signed certificate."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docjobs-test-app")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return cls(
            key_pem=key_pem,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # x5t is SHA-1 by definition
            sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
        )

    def public_key_pem(self) -> bytes:
        """The certificate's public key, for verifying assertions."""
        cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        return cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class FakeLogin:
    """Token endpoint state: issued tokens and how many token requests were made."""

    base_url: str = ""
    certificate: ClientCertificate = field(default_factory=ClientCertificate.generate)
    token_requests: int = 0
    issued: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_endpoint(self) -> str:
        """The URL msal posts to."""
        return f"{self.base_url}/{TENANT_ID}/oauth2/v2.0/token"

    def add_routes(self, app: web.Application) -> None:
        """Register the OpenID configuration and token routes."""
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_configuration)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)

    def is_valid(self, authorization: str) -> bool:
        """True for "Bearer <a token this fake issued>"."""
        scheme, _, token = authorization.partition(" ")
        return scheme == "Bearer" and token in self.issued

    async def openid_configuration(self, request: web.Request) -> web.Response:
        """The tenant's OpenID metadata, as msal reads it during authority validation."""
        tenant = request.match_info["tenant"]
        if tenant != TENANT_ID:
            return _aad_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        root = f"{self.base_url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        """client_credentials grant with a secret or a certificate assertion."""
        with self._lock:
            self.token_requests += 1
        form = await request.post()
        problem = self._check(request.match_info["tenant"], {k: str(v) for k, v in form.items()})
        if problem:
            return _aad_error(401 if problem[0] == "invalid_client" else 400, *problem)
        token = secrets.token_urlsafe(32)
        self.issued.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _check(self, tenant: str, form: dict[str, str]) -> tuple[str, str] | None:
        if tenant != TENANT_ID:
            return "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found."
        if form.get("grant_type") != "client_credentials":
            return "unsupported_grant_type", "AADSTS70003: only client_credentials is supported here."
        if not form.get("scope", "").endswith("/.default"):
            return "invalid_scope", "AADSTS1002012: The provided value for scope is not valid."
        if form.get("client_id") != CLIENT_ID:
            return "unauthorized_client", f"AADSTS700016: Application '{form.get('client_id')}' not found."
        if "client_secret" in form:
            if secrets.compare_digest(form["client_secret"], CLIENT_SECRET):
                return None
            return "invalid_client", "AADSTS7000215: Invalid client secret provided."
        if form.get("client_assertion_type") == ASSERTION_TYPE and self._assertion_ok(form["client_assertion"]):
            return None
        return "invalid_client", "AADSTS700027: Client assertion failed signature validation."

    def _assertion_ok(self, assertion: str) -> bool:
        header = jwt.get_unverified_header(assertion)
        thumbprints = {
            "RS256": ("x5t", self.certificate.sha1_thumbprint),
            "PS256": ("x5t#S256", self.certificate.sha256_thumbprint),
        }
        if header.get("alg") not in thumbprints:
            return False
        name, thumbprint = thumbprints[header["alg"]]
        if header.get(name) != base64.urlsafe_b64encode(bytes.fromhex(thumbprint)).decode():
            return False
        try:
            claims = jwt.decode(
                assertion,
                self.certificate.public_key_pem(),
                algorithms=[header["alg"]],
                audience=self.token_endpoint,
                issuer=CLIENT_ID,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.InvalidTokenError:
            return False
        return bool(claims["sub"] == CLIENT_ID)


def _aad_error(status: int, code: str, description: str) -> web.Response:
    body = {"error": code, "error_description": f"{description}\r\nTrace ID: 0000\r\nCorrelation ID: 0000"}
    return web.json_response(body, status=status)
