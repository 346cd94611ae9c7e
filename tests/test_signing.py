"""Demo key, PKCS#12 loading, PAdES PDF signatures and detached CMS signatures."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from reportlab.pdfgen import canvas

from workbench.audit import signing
from workbench.audit.signing import (
    DEMO_CN,
    DEMO_KEY_FILE,
    FIGURES_ATTACHMENT,
    Signer,
    demo_key,
    load_signer,
    pdf_attachment,
    sign_detached,
    sign_pdf,
    verify_detached,
    verify_pdf,
)
from workbench.errors import InputError

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:reportlab.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyhanko.*"),
]

FIGURES = b'{"evidence_root": "' + b"ab" * 32 + b'", "policy_sha256": "' + b"cd" * 32 + b'"}'


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> Signer:
    return load_signer(demo_key(tmp_path_factory.mktemp("cfg")), None)


def _plain_pdf(text: str = "Release figures") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def _with_figures(pdf: bytes, figures: bytes = FIGURES) -> bytes:
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    embed.embed_file(w, embed.FileSpec(
        file_spec_string=FIGURES_ATTACHMENT,
        embedded_data=embed.EmbeddedFileObject.from_file_data(w, figures)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_pdf(signer) -> bytes:
    return sign_pdf(_with_figures(_plain_pdf()), signer)


def _write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _p12(tmp_path: Path, cn: str, passphrase: bytes) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    blob = pkcs12.serialize_key_and_certificates(
        b"ops", key, cert, None, serialization.BestAvailableEncryption(passphrase))
    path = tmp_path / "ops.p12"
    path.write_bytes(blob)
    return path


# --------------------------------------------------------------------------- keys


def test_demo_key_created_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path))
    first = demo_key()
    assert first == tmp_path / DEMO_KEY_FILE
    blob = first.read_bytes()
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert demo_key() == first and first.read_bytes() == blob
    assert [p.name for p in tmp_path.iterdir()] == [DEMO_KEY_FILE], "temp file left behind"

    s = load_signer(first, b"")
    assert s.is_demo
    assert s.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEMO_CN
    assert isinstance(s.key, rsa.RSAPrivateKey) and s.key.key_size == 2048
    years = (s.cert.not_valid_after_utc - s.cert.not_valid_before_utc).days / 365.25
    assert 9.9 < years < 10.1
    assert load_signer(first, None).cert == s.cert


def test_load_signer_real_key_and_wrong_passphrase(tmp_path):
    path = _p12(tmp_path, "Release Ops Signing", b"s3cret")
    s = load_signer(path, b"s3cret")
    assert not s.is_demo and "Release Ops Signing" in s.subject
    with pytest.raises(InputError, match="ops.p12") as exc:
        load_signer(path, b"wrong")
    assert "passphrase" in str(exc.value)
    with pytest.raises(InputError, match="ops.p12"):
        load_signer(path, None)


def test_load_signer_unreadable_files(tmp_path):
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"not a key file")
    with pytest.raises(InputError, match="junk.p12"):
        load_signer(junk, None)
    with pytest.raises(InputError, match="missing.p12"):
        load_signer(tmp_path / "missing.p12", None)


# --------------------------------------------------------------------------- PDF


def test_signed_pdf_verifies(tmp_path, signed_pdf, signer):
    result = verify_pdf(_write(tmp_path, signed_pdf))
    assert result.ok, result.messages
    assert result.is_demo and result.signer == signer.subject
    assert result.cert_sha256 == signer.cert_sha256
    assert result.evidence_root == "ab" * 32 and result.policy_sha256 == "cd" * 32
    assert any("ENTIRE_FILE" in m for m in result.messages)
    assert pdf_attachment(signed_pdf) == FIGURES


@pytest.mark.parametrize("tail", [b"\n%%EOF\n", b"\x00", b"trailing garbage"])
def test_bytes_after_eof_fail(tmp_path, signed_pdf, tail):
    result = verify_pdf(_write(tmp_path, signed_pdf + tail))
    assert not result.ok


def test_incremental_update_after_signing_fails(tmp_path, signed_pdf):
    updated = _with_figures(signed_pdf, b'{"evidence_root": "' + b"00" * 32 + b'"}')
    result = verify_pdf(_write(tmp_path, updated))
    assert not result.ok
    assert any("does not cover the entire file" in m for m in result.messages)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.9])
def test_flipped_byte_fails(tmp_path, signed_pdf, where):
    data = bytearray(signed_pdf)
    i = int(len(data) * where)
    data[i] = (data[i] + 1) % 256
    assert not verify_pdf(_write(tmp_path, bytes(data))).ok


def test_unsigned_and_missing_figures_fail(tmp_path, signer):
    unsigned = verify_pdf(_write(tmp_path, _with_figures(_plain_pdf())))
    assert not unsigned.ok and "no signature" in unsigned.messages[0]
    no_figures = verify_pdf(_write(tmp_path, sign_pdf(_plain_pdf(), signer)))
    assert not no_figures.ok
    assert any("figures.json is missing" in m for m in no_figures.messages)
    assert not verify_pdf(_write(tmp_path, b"%PDF-1.4 nonsense")).ok


def test_signature_container_bytes_are_protected(tmp_path, signed_pdf):
    """The /Contents hex string is the one range the signature digest cannot cover;
    no byte of it (CMS, embedded certificate, zero padding, hex letter case) may change."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    _, start, end, _ = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0].byte_range
    positions = list(range(start + 1, end - 1, (end - start) // 30)) + [end - 2]
    for i in positions:
        data = bytearray(signed_pdf)
        data[i] ^= 0x01
        assert not verify_pdf(_write(tmp_path, bytes(data))).ok, f"byte {i} changed unnoticed"
    letter = next(i for i in range(start + 1, end) if signed_pdf[i:i + 1] in b"ABCDEF")
    data = bytearray(signed_pdf)
    data[letter:letter + 1] = data[letter:letter + 1].lower()
    assert not verify_pdf(_write(tmp_path, bytes(data))).ok


def test_ca_issued_key_embeds_only_its_chain(tmp_path):
    ca, leaf_p12 = _ca_and_leaf(tmp_path)
    s = load_signer(leaf_p12, b"pw")
    assert len(s.extra_certs) == 2 and not s.is_demo
    pdf = verify_pdf(_write(tmp_path, sign_pdf(_with_figures(_plain_pdf()), s)))
    assert pdf.ok, pdf.messages
    data = b"chain"
    p7s = sign_detached(data, s)
    from asn1crypto import cms

    certs = cms.ContentInfo.load(p7s)["content"]["certificates"]
    assert sorted(c.chosen.subject.human_friendly for c in certs) == [
        "Common Name: Ops Leaf", "Common Name: Test CA"]
    assert verify_detached(data, p7s).ok


def _ca_and_leaf(tmp_path: Path) -> tuple[x509.Certificate, Path]:
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)

    def make(cn: str, key, issuer_name, issuer_key, ca: bool) -> x509.Certificate:
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(issuer_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(not ca, not ca, False, False, False, ca, ca,
                                             False, False), critical=True)
                .sign(issuer_key, hashes.SHA256()))

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = make("Test CA", ca_key, ca_name, ca_key, True)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = make("Ops Leaf", leaf_key, ca_name, ca_key, False)
    stray_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stray_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Unrelated CA")])
    stray = make("Unrelated CA", stray_key, stray_name, stray_key, True)
    blob = pkcs12.serialize_key_and_certificates(
        b"leaf", leaf_key, leaf, [ca, stray], serialization.BestAvailableEncryption(b"pw"))
    path = tmp_path / "leaf.p12"
    path.write_bytes(blob)
    return ca, path


def test_resigned_with_other_key_reports_other_signer(tmp_path, signed_pdf):
    other = load_signer(_p12(tmp_path, "Someone Else", b"pw"), b"pw")
    result = verify_pdf(_write(tmp_path, sign_pdf(_with_figures(_plain_pdf("forged")), other)))
    assert result.ok  # integrity holds; identity is reported, not trusted
    assert "Someone Else" in result.signer and not result.is_demo
    assert not any("DEMO" in m for m in result.messages)


# --------------------------------------------------------------------------- CMS


def test_detached_signature_roundtrip(signer):
    data = b"workbook bytes \x00\x01\r\n end"
    p7s = sign_detached(data, signer)
    assert p7s[0] == 0x30  # DER SEQUENCE
    result = verify_detached(data, p7s)
    assert result.ok, result.messages
    assert result.is_demo and result.cert_sha256 == signer.cert_sha256


def test_detached_signature_detects_changed_data(signer):
    data = bytes(range(256)) * 4
    p7s = sign_detached(data, signer)
    for i in (0, 511, len(data) - 1):
        changed = bytearray(data)
        changed[i] ^= 0x01
        result = verify_detached(bytes(changed), p7s)
        assert not result.ok
        assert any("changed after signing" in m for m in result.messages)
    assert not verify_detached(data + b"\n", p7s).ok


def test_detached_signature_detects_tampered_p7s(signer):
    data = b"figures"
    p7s = sign_detached(data, signer)
    sig = bytearray(p7s)
    sig[-5] ^= 0x01  # inside the RSA signature value at the end
    assert not verify_detached(data, bytes(sig)).ok
    attrs = bytearray(p7s)
    at = bytes(attrs).index(hashlib.sha256(data).digest())
    attrs[at] ^= 0x01  # the signed messageDigest attribute
    assert not verify_detached(data, bytes(attrs)).ok
    assert not verify_detached(data, b"\x30\x03\x02\x01\x00").ok
    assert not verify_detached(data, b"garbage").ok


def test_detached_signature_rejects_substituted_digest(signer, tmp_path):
    """Re-pointing messageDigest at new data breaks the signature over the attributes."""
    data, forged = b"original", b"forged!!"
    p7s = bytearray(sign_detached(data, signer))
    at = bytes(p7s).index(hashlib.sha256(data).digest())
    p7s[at:at + 32] = hashlib.sha256(forged).digest()
    result = verify_detached(forged, bytes(p7s))
    assert not result.ok
    assert any("RSA signature" in m for m in result.messages)


def test_every_part_of_the_p7s_is_protected(signer):
    data = b"workbook"
    p7s = sign_detached(data, signer)
    for i in range(0, len(p7s), 13):
        tampered = bytearray(p7s)
        tampered[i] ^= 0x01
        assert not verify_detached(data, bytes(tampered)).ok, f"byte {i} changed unnoticed"
    assert not verify_detached(data, p7s + b"\x00").ok


def test_verifying_first_does_not_break_signing_later(tmp_path):
    """asn1crypto resolves CMS attribute names once; verifying a .p7s before pyHanko
    was imported must not leave pyHanko unable to sign in the same process."""
    script = (
        "import io, sys\n"
        "from reportlab.pdfgen import canvas\n"
        "from workbench.audit.signing import *\n"
        f"s = load_signer(demo_key({str(tmp_path)!r}))\n"
        "assert verify_detached(b'x', sign_detached(b'x', s)).ok\n"
        "buf = io.BytesIO(); c = canvas.Canvas(buf); c.drawString(9, 9, 'x'); c.save()\n"
        "sign_pdf(buf.getvalue(), s)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_detached_signature_verifies_with_openssl(signer, tmp_path):
    data = b"interoperable bytes"
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "data.p7s").write_bytes(sign_detached(data, signer))
    (tmp_path / "cert.pem").write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))
    proc = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "data.p7s",
         "-content", "data.bin", "-CAfile", "cert.pem", "-purpose", "any", "-out", "/dev/null"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    signing.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
