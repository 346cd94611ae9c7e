"""Signing keys, PAdES-signed PDFs and detached CMS signatures, and their verification.

Keys come from a PKCS#12 file.  On first use the workbench generates a self-signed
*demo* key (:func:`demo_key`) whose certificate says so in its common name; every
report signed with it carries a visible banner and every verification says so.

Verification is strict on integrity and deliberately lenient on identity:

* a PDF verifies when every embedded signature is intact and cryptographically valid
  against the certificate embedded with it, and the workbench signature covers the
  *entire* file -- any byte appended after the signed ``%%EOF`` or any incremental
  update made after signing fails it;
* a detached ``.p7s`` verifies when its ``messageDigest`` equals SHA-256 of the data and
  the RSA signature over the signed attributes checks out with the embedded certificate;
* the parts a signature cannot cover are checked too, so that no single byte of a
  report or its ``.p7s`` can change unnoticed: the PDF's ``/Contents`` hex string must
  hold exactly the CMS object plus zero padding, the CMS must be canonical DER with
  the expected algorithms and versions, and the embedded certificates must verify
  (self-signed, or against their embedded issuer chain).

Who signed is reported (subject, certificate SHA-256 fingerprint, demo or not) rather
than judged against a trust store: the workbench runs offline and the auditor compares
the fingerprint with the one they expect.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from ..errors import InputError
from ..paths import config_dir

__all__ = [
    "Attachment",
    "DEMO_CN",
    "DEMO_KEY_FILE",
    "FIGURES_ATTACHMENT",
    "SIGNATURE_FIELD",
    "signer_for",
    "Signer",
    "VerifyResult",
    "atomic_write_bytes",
    "demo_key",
    "embed_attachments",
    "load_signer",
    "pdf_attachment",
    "sign_detached",
    "sign_pdf",
    "verify_detached",
    "verify_pdf",
]

DEMO_CN = "Release SLA Workbench DEMO KEY - not for production"
DEMO_KEY_FILE = "demo-signing-key.p12"
SIGNATURE_FIELD = "WorkbenchSignature"
#: name of the figures JSON embedded in every signed PDF report
FIGURES_ATTACHMENT = "figures.json"
_DEMO_MARK = "DEMO KEY"
_SHA256_OIDS = {"sha256", "2.16.840.1.101.3.4.2.1"}
_RSA_SIG_ALGOS = {"rsassa_pkcs1v15", "sha256_rsa"}
_DEMO_VALID_DAYS = 3652


# --------------------------------------------------------------------------- files


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and
    ``os.replace``, so readers see the old file or the new one, never half of it.
    The file gets permission bits ``mode`` (the demo key uses 0o600)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Signer:
    """A private key with its certificate, as loaded from a PKCS#12 file."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    is_demo: bool
    extra_certs: tuple[x509.Certificate, ...] = ()
    source: str | None = None

    @property
    def subject(self) -> str:
        """The certificate subject as an RFC 4514 string."""
        return self.cert.subject.rfc4514_string()

    @property
    def cert_sha256(self) -> str:
        """Lower-hex SHA-256 fingerprint of the certificate."""
        return self.cert.fingerprint(hashes.SHA256()).hex()


def _issuing_chain(cert: x509.Certificate,
                   pool: tuple[x509.Certificate, ...]) -> list[x509.Certificate]:
    """The certificates of ``pool`` that issued ``cert``, its issuer, and so on (the
    chain embedded next to a signature; unrelated certificates are left out)."""
    chain: list[x509.Certificate] = []
    current = cert
    while current.issuer != current.subject:
        nxt = next((c for c in pool if c.subject == current.issuer and c not in chain
                    and c != cert and _issued_by(current, c)), None)
        if nxt is None:
            break
        chain.append(nxt)
        current = nxt
    return chain


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _is_demo_cert(cert: x509.Certificate) -> bool:
    return _DEMO_MARK in _common_name(cert)


def _build_demo_identity() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA-2048 key and a self-signed certificate labelled as a demo."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CN),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Release SLA Workbench"),
    ])
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=_DEMO_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def demo_key(config_dir: str | Path | None = None) -> Path:
    """Path of the demo PKCS#12 key (empty passphrase), generated on first use.

    The file lives in ``config_dir`` (default: :func:`workbench.paths.config_dir`,
    which honours ``WORKBENCH_CONFIG_DIR``) and is reused once it exists.
    """
    folder = Path(config_dir) if config_dir is not None else _default_config_dir()
    path = folder / DEMO_KEY_FILE
    if path.is_file():
        return path
    key, cert = _build_demo_identity()
    blob = pkcs12.serialize_key_and_certificates(
        b"workbench-demo", key, cert, None, serialization.NoEncryption()
    )
    return atomic_write_bytes(path, blob, mode=0o600)


def _default_config_dir() -> Path:
    return config_dir()


def _read_pkcs12(data: bytes, passphrase: bytes | None, name: str):
    """Load a PKCS#12 blob; an empty passphrase and no passphrase are the same."""
    attempts = [passphrase] if passphrase else [None, b""]
    last: Exception | None = None
    for pw in attempts:
        try:
            return pkcs12.load_key_and_certificates(data, pw)
        except (ValueError, TypeError) as exc:
            last = exc
    reason = "wrong passphrase or not a PKCS#12 key file"
    if passphrase is None and last is not None:
        reason = "the key file needs a passphrase, or it is not a PKCS#12 key file"
    raise InputError(reason, file=name)


def load_signer(p12_path: str | Path, passphrase: bytes | None = None) -> Signer:
    """Load key and certificate from a PKCS#12 file.

    Raises :class:`InputError` naming the file when it cannot be read, the passphrase
    is wrong, or it holds no RSA key with a certificate.
    """
    path = Path(p12_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read signing key: {exc.strerror or exc}", file=path.name) from None
    key, cert, extra = _read_pkcs12(data, passphrase, path.name)
    if key is None or cert is None:
        raise InputError("the PKCS#12 file holds no private key with a certificate", file=path.name)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InputError("only RSA signing keys are supported", file=path.name)
    return Signer(key=key, cert=cert, is_demo=_is_demo_cert(cert),
                  extra_certs=tuple(extra or ()), source=str(path))


# --------------------------------------------------------------------------- results


@dataclass
class VerifyResult:
    """Outcome of verifying a signed report.  ``ok`` is the verdict; ``messages``
    say what was checked and, on failure, what did not match."""

    ok: bool
    messages: list[str] = field(default_factory=list)
    signer: str = ""
    is_demo: bool = False
    cert_sha256: str = ""
    evidence_root: str | None = None
    policy_sha256: str | None = None

    def fail(self, message: str) -> VerifyResult:
        """Record a failed check and return self."""
        self.ok = False
        self.messages.append(message)
        return self


def _identity_messages(cert: x509.Certificate) -> list[str]:
    msgs = [f"signed by {cert.subject.rfc4514_string()}",
            f"certificate SHA-256 fingerprint {cert.fingerprint(hashes.SHA256()).hex()}"]
    if _is_demo_cert(cert):
        msgs.append("signed with the workbench DEMO key: integrity only, not a production signature")
    return msgs


def _embedded_certs(signed_data) -> list[x509.Certificate]:
    """The X.509 certificates carried in a CMS SignedData."""
    return [x509.load_der_x509_certificate(choice.chosen.dump())
            for choice in signed_data["certificates"] or () if choice.name == "certificate"]


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _certificate_problems(signer_cert: x509.Certificate,
                          certs: list[x509.Certificate]) -> list[str]:
    """Check the embedded certificates, which the CMS signature does not cover, so
    that none of their bytes can change unnoticed.

    The embedded set must be the signer certificate (once) plus its issuing chain,
    each link verifying against the next; a self-signed top must verify against
    itself.  A chain whose top's issuer is not embedded ends there (that top cannot be
    checked beyond its use as the issuer of the certificate below it).
    """
    remaining = list(certs)
    if signer_cert not in remaining:
        return ["the signer certificate is not embedded in the signature"]
    remaining.remove(signer_cert)
    problems = []
    cert = signer_cert
    while True:
        if cert.issuer == cert.subject:
            if not _issued_by(cert, cert):
                problems.append(f"the certificate {cert.subject.rfc4514_string()} does not "
                                "verify against its own key: it was altered")
            break
        issuer = next((c for c in remaining if c.subject == cert.issuer and _issued_by(cert, c)),
                      None)
        if issuer is None:
            if any(c.subject == cert.issuer for c in remaining):
                problems.append(f"the certificate {cert.subject.rfc4514_string()} does not "
                                "verify against its embedded issuer: one of them was altered")
            elif cert is signer_cert:
                problems.append("the signer certificate is neither self-signed nor issued by "
                                "an embedded certificate, so it cannot be checked (or it was "
                                "altered)")
            break
        remaining.remove(issuer)
        cert = issuer
    problems += [f"unexpected certificate {c.subject.rfc4514_string()} in the signature"
                 for c in remaining]
    return problems


# --------------------------------------------------------------------------- PDF


def _pyhanko_signer(signer: Signer):
    """Wrap a :class:`Signer` as a pyHanko ``SimpleSigner``."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator.registry import SimpleCertificateStore
    from pyhanko.sign.signers import SimpleSigner

    key_der = signer.key.private_bytes(serialization.Encoding.DER,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    cert = asn1_x509.Certificate.load(signer.cert.public_bytes(serialization.Encoding.DER))
    others = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
              for c in _issuing_chain(signer.cert, signer.extra_certs)]
    return SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                        # pyHanko adds the signing certificate itself; listing it in the
                        # registry too would embed it twice
                        cert_registry=SimpleCertificateStore.from_certs(others))


@dataclass(frozen=True)
class Attachment:
    """A file to embed in a PDF (an ``/EmbeddedFiles`` entry with size and MD5
    checksum parameters, Flate-compressed).  :meth:`prepare` compresses and checksums
    it ahead of time -- in another thread, say, while the document is laid out: zlib
    and hashlib release the GIL, and a figures JSON can be 100 MB and more."""

    name: str
    data: bytes
    description: str
    mime_type: str = "application/json"
    #: zlib stream of ``data`` and its MD5, when made ahead (else made while writing)
    compressed: bytes | None = field(default=None, repr=False)
    md5: bytes | None = field(default=None, repr=False)

    def prepare(self) -> Attachment:
        """A copy with the compressed stream and the checksum made (zlib's default
        level, as pyHanko writes a stream itself)."""
        return Attachment(self.name, self.data, self.description, self.mime_type,
                          zlib.compress(self.data), hashlib.md5(self.data).digest())


def embed_attachments(writer, attachments: Sequence[Attachment]) -> None:
    """Add ``attachments`` to the pending update of the pyHanko ``writer``."""
    from pyhanko.pdf_utils import embed, generic

    for att in attachments:
        if att.compressed is None or att.md5 is None:
            stream = embed.EmbeddedFileObject.from_file_data(
                writer, att.data, mime_type=att.mime_type,
                params=embed.EmbeddedFileParams(embed_size=True, embed_checksum=True))
        else:   # the same object, from the stream and checksum made ahead
            stream = embed.EmbeddedFileObject(writer, stream_data=att.data,
                                              encoded_data=att.compressed,
                                              mime_type=att.mime_type)
            stream[generic.pdf_name("/Filter")] = generic.pdf_name("/FlateDecode")
            stream[generic.pdf_name("/Params")] = generic.DictionaryObject({
                generic.pdf_name("/Size"): generic.NumberObject(len(att.data)),
                generic.pdf_name("/CheckSum"): generic.ByteStringObject(att.md5)})
        embed.embed_file(writer, embed.FileSpec(
            file_spec_string=att.name, file_name=att.name, embedded_data=stream,
            description=att.description))


def sign_pdf(in_bytes: bytes, signer: Signer, attachments: Sequence[Attachment] = ()) -> bytes:
    """PAdES-sign a PDF (invisible field ``WorkbenchSignature``, SHA-256, no timestamp)
    as an incremental update, and return the signed bytes.

    ``attachments`` are embedded in that same update, so the signature covers them and
    the file is read, written and hashed once (not once per attachment and again for
    the signature)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="Release SLA compliance report",
        name=_common_name(signer.cert) or None,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(in_bytes))
    embed_attachments(writer, attachments)
    out = signers.PdfSigner(meta, signer=_pyhanko_signer(signer)).sign_pdf(writer)
    return out.getvalue()


def _embedded_files(reader) -> dict[str, Any]:
    """Name -> file specification dictionary of the document's embedded files."""
    try:
        tree = reader.root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return {}
    found: dict[str, Any] = {}
    stack = [tree]
    while stack:
        node = _deref(stack.pop())
        if "/Names" in node:
            names = _deref(node["/Names"])
            for i in range(0, len(names) - 1, 2):
                found[str(_deref(names[i]))] = _deref(names[i + 1])
        if "/Kids" in node:
            stack.extend(_deref(node["/Kids"]))
    return found


def _deref(obj: Any) -> Any:
    """Resolve a pyHanko indirect reference (other objects pass through)."""
    return obj.get_object() if hasattr(obj, "get_object") else obj


def pdf_attachment(data: bytes, name: str = FIGURES_ATTACHMENT) -> bytes | None:
    """The bytes of the embedded file ``name`` in a PDF, or None when absent."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    spec = _embedded_files(reader).get(name)
    if spec is None:
        return None
    ef = _deref(spec["/EF"]) if "/EF" in spec else {}
    key = "/UF" if "/UF" in ef else "/F"
    return _deref(ef[key]).data if key in ef else None


def _check_pdf_signature(data: bytes, sig, result: VerifyResult, *, last: bool) -> None:
    """Validate one embedded signature against its own certificate."""
    from pyhanko_certvalidator import ValidationContext
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature

    cert = sig.signer_cert
    context = ValidationContext(trust_roots=[cert], allow_fetching=False)
    status = validate_pdf_signature(sig, context)
    label = f"signature {sig.field_name!r}"
    if not status.intact:
        result.fail(f"{label}: the signed bytes were changed (digest mismatch)")
    if not status.valid:
        result.fail(f"{label}: the cryptographic signature is invalid")
    if status.intact and status.valid and not status.trusted:
        result.fail(f"{label}: the signing certificate could not be validated")
    for problem in _container_problems(data, sig):
        result.fail(f"{label}: {problem}")
    if last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        result.fail(f"{label}: does not cover the entire file "
                    f"(coverage {status.coverage.name}); the file was changed after signing")
    if status.intact and status.valid:
        result.messages.append(f"{label}: intact and valid, coverage {status.coverage.name}")


def _container_problems(data: bytes, sig) -> list[str]:
    """Problems in the parts of a PDF signature its digest does not cover: the
    ``/Contents`` string, the CMS fields outside the signed attributes, the certificates."""
    container = _signature_container(data, sig)
    if container is None:
        return ["the signature container was altered"]
    return _cms_problems(container) + _certificate_problems(_signature_cert(sig),
                                                            _embedded_certs(sig.signed_data))


def _der_length(buf: bytes) -> int:
    """Total length (header + content) of the DER element at the start of ``buf``."""
    if len(buf) < 2:
        raise ValueError("truncated DER element")
    first = buf[1]
    if first < 0x80:
        return 2 + first
    k = first & 0x7F
    if k == 0 or len(buf) < 2 + k:
        raise ValueError("bad DER length")
    return 2 + k + int.from_bytes(buf[2:2 + k], "big")


def _signature_container(data: bytes, sig) -> bytes | None:
    """The DER CMS object in the one range a PDF signature cannot cover -- its own
    ``/Contents`` hex string -- or None when that range holds anything else than the
    CMS object in one letter case followed by zero padding."""
    _, len1, start2, _ = (int(v) for v in sig.byte_range)
    gap = data[len1:start2]
    inner = gap[1:-1]
    if gap[:1] != b"<" or gap[-1:] != b">" or len(inner) % 2:
        return None
    try:
        decoded = bytes.fromhex(inner.decode("ascii"))
        used = _der_length(decoded)
    except (UnicodeDecodeError, ValueError):
        return None
    canonical = decoded.hex().encode("ascii")
    if used > len(decoded) or any(decoded[used:]) or inner not in (canonical, canonical.upper()):
        return None
    return decoded[:used]


_NULL_PARAMS = (b"", b"\x05\x00")


def _algorithm_ok(alg, names: set[str]) -> bool:
    return alg["algorithm"].native in names and alg["parameters"].dump() in _NULL_PARAMS


def _cms_problems(der: bytes) -> list[str]:
    """Structural checks on a CMS SignedData, so that the fields the signature does
    not cover cannot change unnoticed: strict DER that re-encodes to the same bytes,
    one SHA-256 RSA signer, consistent versions, content type ``data``, no CRLs and no
    unsigned attributes."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info.dump(force=True) != der:
            return ["the signature is not in canonical DER encoding"]
        signed = info["content"]
        infos = list(signed["signer_infos"])
        problems = []
        if info["content_type"].native != "signed_data" or len(infos) != 1:
            return ["the signature is not a CMS SignedData with exactly one signer"]
        si = infos[0]
        si_version = "v1" if si["sid"].name == "issuer_and_serial_number" else "v3"
        if si["version"].native != si_version or signed["version"].native != si_version:
            problems.append("the CMS version numbers are inconsistent")
        algs = list(signed["digest_algorithms"])
        if not algs or not all(_algorithm_ok(a, _SHA256_OIDS) for a in algs):
            problems.append("the CMS digest algorithm list was altered")
        if signed["encap_content_info"]["content_type"].native != "data":
            problems.append("the CMS content type is not 'data'")
        if signed["crls"].native is not None or si["unsigned_attrs"].native is not None:
            problems.append("the CMS carries unexpected unsigned data")
        if not (_algorithm_ok(si["digest_algorithm"], _SHA256_OIDS)
                and _algorithm_ok(si["signature_algorithm"], _RSA_SIG_ALGOS)):
            problems.append("the signer's algorithm identifiers were altered")
        return problems
    except Exception as exc:  # malformed input must give a verdict, not a traceback
        return [f"the signature cannot be parsed: {type(exc).__name__}"]


def _signature_cert(sig) -> x509.Certificate:
    return x509.load_der_x509_certificate(sig.signer_cert.dump())


def verify_pdf(path: str | Path) -> VerifyResult:
    """Verify a signed PDF report: signatures, whole-file coverage, figures attachment."""
    path = Path(path)
    result = VerifyResult(ok=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return result.fail(f"cannot read {path.name}: {exc.strerror or exc}")
    try:
        _verify_pdf_bytes(data, result)
    except Exception as exc:  # a damaged file must give a verdict, not a traceback
        result.fail(f"{path.name} is not a readable signed PDF: {type(exc).__name__}: {exc}")
    return result


def _verify_pdf_bytes(data: bytes, result: VerifyResult) -> None:
    _register_asn1_names()
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    sigs = list(reader.embedded_signatures)
    if not sigs:
        result.fail("the PDF carries no signature")
        return
    if not any(s.field_name == SIGNATURE_FIELD for s in sigs):
        result.fail(f"no {SIGNATURE_FIELD!r} signature field in the PDF")
    for i, sig in enumerate(sigs):
        _check_pdf_signature(data, sig, result, last=(i == len(sigs) - 1))
    cert = _signature_cert(sigs[-1])
    result.signer = cert.subject.rfc4514_string()
    result.is_demo = _is_demo_cert(cert)
    result.cert_sha256 = cert.fingerprint(hashes.SHA256()).hex()
    result.messages.extend(_identity_messages(cert))
    _check_figures(pdf_attachment(data), result)


def _check_figures(raw: bytes | None, result: VerifyResult) -> None:
    """The embedded figures JSON must be present and name its evidence root."""
    if raw is None:
        result.fail(f"the embedded {FIGURES_ATTACHMENT} is missing")
        return
    try:
        figures = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        result.fail(f"the embedded {FIGURES_ATTACHMENT} is not valid JSON")
        return
    if not isinstance(figures, dict) or not figures.get("evidence_root"):
        result.fail(f"the embedded {FIGURES_ATTACHMENT} names no evidence_root")
        return
    result.evidence_root = str(figures["evidence_root"])
    result.policy_sha256 = figures.get("policy_sha256")
    result.messages.append(f"embedded {FIGURES_ATTACHMENT} present "
                           f"(SHA-256 {hashlib.sha256(raw).hexdigest()}), "
                           f"evidence root {result.evidence_root}")


# --------------------------------------------------------------------------- CMS


def sign_detached(data: bytes, signer: Signer) -> bytes:
    """DER-encoded detached CMS (PKCS#7) signature of ``data`` with SHA-256."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(
        signer.cert, signer.key, hashes.SHA256())
    for extra in _issuing_chain(signer.cert, signer.extra_certs):
        builder = builder.add_certificate(extra)
    return builder.sign(serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def _register_asn1_names() -> None:
    """Import the modules that add names to asn1crypto's OID maps (asn1crypto.tsp,
    pyHanko's CAdES attributes) *before* any CMS attribute name is resolved here:
    asn1crypto builds its reverse map once, and a name registered after that first
    use can no longer be resolved -- pyHanko signing would then fail in-process."""
    import asn1crypto.tsp  # noqa: F401
    import pyhanko.sign.ades.cades_asn1  # noqa: F401
    import pyhanko.sign.signers  # noqa: F401


def _find_signer_cert(signed_data, sid) -> x509.Certificate | None:
    """The embedded certificate named by the SignerInfo's ``sid``."""
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"]
                    and cert.serial_number == sid.chosen["serial_number"].native):
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    return None


def _signed_attr(attrs, name: str):
    for attr in attrs:
        if attr["type"].native == name:
            return attr["values"][0]
    return None


def verify_detached(data: bytes, p7s: bytes) -> VerifyResult:
    """Verify a detached CMS signature over ``data``.

    Checks: content type ``data``; a single SHA-256 SignerInfo whose ``messageDigest``
    equals SHA-256(``data``); and the RSA PKCS#1 v1.5 signature over the DER of the
    signed attributes (re-tagged as SET OF) with the embedded signer certificate.
    """
    _register_asn1_names()
    from asn1crypto import cms

    result = VerifyResult(ok=True)
    problems = _cms_problems(p7s)
    if problems:
        for problem in problems:
            result.fail(problem)
        return result
    try:
        info = cms.ContentInfo.load(p7s)
        if info["content_type"].native != "signed_data":
            return result.fail("the .p7s is not a CMS SignedData structure")
        signed = info["content"]
        return _verify_signer_info(data, signed, result)
    except Exception as exc:  # a damaged signature must give a verdict, not a traceback
        return result.fail(f"the .p7s cannot be parsed: {type(exc).__name__}: {exc}")


def _verify_signer_info(data: bytes, signed, result: VerifyResult) -> VerifyResult:
    infos = list(signed["signer_infos"])
    if len(infos) != 1:
        return result.fail(f"expected one signer in the .p7s, found {len(infos)}")
    if signed["encap_content_info"]["content"].native is not None:
        return result.fail("the .p7s embeds its content; a detached signature was expected")
    si = infos[0]
    if si["digest_algorithm"]["algorithm"].native not in _SHA256_OIDS:
        return result.fail(f"unsupported digest {si['digest_algorithm']['algorithm'].native}")
    attrs = si["signed_attrs"]
    if not attrs:
        return result.fail("the .p7s has no signed attributes")
    content_type = _signed_attr(attrs, "content_type")
    if content_type is None or content_type.native != "data":
        return result.fail("the signed content type is not 'data'")
    digest = _signed_attr(attrs, "message_digest")
    if digest is None or digest.native != hashlib.sha256(data).digest():
        result.fail("the file's SHA-256 does not match the signed message digest: "
                    "the file was changed after signing")
    cert = _find_signer_cert(signed, si["sid"])
    if cert is None:
        return result.fail("the signer certificate is not embedded in the .p7s")
    _check_cms_signature(si, attrs, cert, result)
    for problem in _certificate_problems(cert, _embedded_certs(signed)):
        result.fail(problem)
    result.signer = cert.subject.rfc4514_string()
    result.is_demo = _is_demo_cert(cert)
    result.cert_sha256 = cert.fingerprint(hashes.SHA256()).hex()
    if result.ok:
        result.messages.append("detached CMS signature intact and valid (SHA-256, RSA)")
    result.messages.extend(_identity_messages(cert))
    return result


def _check_cms_signature(si, attrs, cert: x509.Certificate, result: VerifyResult) -> None:
    algo = si["signature_algorithm"]["algorithm"].native
    if algo not in _RSA_SIG_ALGOS:
        result.fail(f"unsupported signature algorithm {algo}")
        return
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        result.fail("the signer certificate does not hold an RSA key")
        return
    signed_bytes = b"\x31" + attrs.dump()[1:]  # [0] IMPLICIT -> SET OF, as signed
    try:
        public_key.verify(si["signature"].native, signed_bytes, padding.PKCS1v15(),
                          hashes.SHA256())
    except InvalidSignature:
        result.fail("the RSA signature over the signed attributes is invalid")


def signer_for(key: str | Path | None, passphrase: bytes | None = None) -> "Signer":
    """The signer of a report: the demo key without ``key``; else the PKCS#12 file,
    unlocked by ``passphrase``, else $WORKBENCH_KEY_PASSPHRASE, else a prompt when
    standard input is a terminal (empty otherwise).  The passphrase is never stored."""
    import getpass
    import os
    import sys

    if key is None:
        return load_signer(demo_key(), b"")
    env = os.environ.get("WORKBENCH_KEY_PASSPHRASE")
    if passphrase is not None:
        pw = passphrase
    elif env is not None:
        pw = env.encode()
    elif sys.stdin.isatty():
        pw = getpass.getpass(f"passphrase for {key}: ").encode()
    else:
        pw = b""
    return load_signer(Path(key), pw)
