"""Credentials that shipped past the name and content rules of `portable_fn.packaging` (the fourth round of
probes): inside archives, written in another encoding, under a name that only looks like a credential's, behind
a hard link, or outside the app altogether (`source`). Each planted file carries no real secret: the keys are
made at test time, the rest are fixed fake strings.

Every test here runs `app_files` (what every provider's packaging calls first) on a copy of tests/apps/vault.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import os
import tarfile
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import portable_fn.packaging as packaging
from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.packaging import app_files
from portable_fn.runtime.errors import ConfigError, DeployError

from .app_copy import copy_app

VAULT = Path(__file__).parent / "apps" / "vault"
FAKE_AWS_PAIR = (
    "aws_access_key_id = AKIAZ3PLANTEDFAKE1XY\naws_secret_access_key = q8Vd2/PlantedFakeSecretKey+0123456789aBc\n"
)
NETRC = "machine api.example.com login me password planted-netrc-pw\n"
NOT_SHAPED = "PLANTED, no shape the content check knows: only its name says it is a credential\n"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem() -> str:
    return (
        _key()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def _der() -> bytes:
    return _key().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(encoding: serialization.Encoding) -> bytes:
    """A self-signed certificate: public, so it ships."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vault.example.com")])
    import datetime

    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(encoding)


def _zip(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _tar(members: dict[str, bytes | str], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return out.getvalue()


def _gzip_named(name: str, data: bytes) -> bytes:
    """A gzip file that keeps the name of the file it compressed (what `gzip FILE` writes)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=out, mtime=0) as stream:
        stream.write(data)
    return out.getvalue()


def _fake_pem() -> str:
    """A PEM block of the right shape whose body is no key (so no other rule, such as the one that reads base64
    DER, sees it): what proves a rule that reads the markers."""
    body = base64.b64encode(b"PLANTED fake key " + os.urandom(180)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n"


def _utf7_dashes(text: str) -> str:
    """`text` with each run of dashes written in UTF-7 (`-----` is `+AC0ALQAtAC0ALQ-`)."""
    return text.replace("-----", "+AC0ALQAtAC0ALQ-")


def _utf7_each_dash(text: str) -> str:
    return text.replace("-", "+AC0-")


def _python_split_begin() -> str:
    lines = _fake_pem().splitlines()
    body = "".join(f"    {line!r} '\\n'\n" for line in lines[1:])
    return 'KEY = (\n    "-----BEGIN " "PRIVATE KEY-----\\n"\n' + body + ")\n"


def _python_plus_joined() -> str:
    lines = _fake_pem().splitlines()
    return "KEY = '-----BEGIN ' + 'PRIVATE KEY-----\\n' + " + " + ".join(repr(line + "\n") for line in lines[1:]) + "\n"


def _python_escaped() -> str:
    pem = _fake_pem()
    return "KEY = " + json.dumps(pem).replace("-", "\\N{HYPHEN-MINUS}") + "\n"  # an escape only Python reads


def _javascript_plus_joined() -> str:
    lines = _fake_pem().splitlines()
    return "const key = '-----BEGIN ' +\n  'PRIVATE KEY-----\\n' +\n" + " +\n".join(
        f"  '{line}\\n'" for line in lines[1:]
    )


def _xxd_plain(data: bytes) -> str:
    """What `xxd -p` prints: hex, 60 digits a line."""
    digits = data.hex()
    return "\n".join(digits[i : i + 60] for i in range(0, len(digits), 60)) + "\n"


# (file planted in the app, its bytes, what the refusal line names, what it says the file looks like)
ARCHIVES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "zip, a key by its name": (lambda: _zip({"id_rsa": NOT_SHAPED}), "keys.zip!id_rsa", "named like a credential"),
    "zip, a .netrc": (lambda: _zip({"home/.netrc": NETRC}), "keys.zip!home/.netrc", "netrc"),
    "zip, a PEM key": (lambda: _zip({"notes/readme.txt": _pem()}), "keys.zip!notes/readme.txt", "PEM private key"),
    "zip, an AWS pair": (lambda: _zip({"a/b/c.ini": FAKE_AWS_PAIR}), "keys.zip!a/b/c.ini", "AWS access key"),
    "zip, in a secrets folder": (lambda: _zip({"secrets/db.txt": NOT_SHAPED}), "keys.zip!secrets/db.txt", "folder"),
    "zip, in .ssh": (lambda: _zip({".ssh/known": NOT_SHAPED}), "keys.zip!.ssh/known", "folder"),
    "zip, a lookalike name": (lambda: _zip({"\u0456d_rsa": NOT_SHAPED}), "keys.zip!\u0456d_rsa", "named like"),
    "tar": (lambda: _tar({"home/.aws/credentials": NOT_SHAPED}), "keys.tar!home/.aws/credentials", "named like"),
    "tar.gz": (lambda: _tar({"deploy/settings.txt": _pem()}, "w:gz"), "keys.tar.gz!deploy/settings.txt", "PEM"),
    "tgz": (lambda: _tar({"notes.md": FAKE_AWS_PAIR}, "w:gz"), "keys.tgz!notes.md", "AWS access key"),
    "tar.bz2": (lambda: _tar({".netrc": NETRC}, "w:bz2"), "keys.tar.bz2!.netrc", "netrc"),
    "tar.xz": (lambda: _tar({"id_ed25519": NOT_SHAPED}, "w:xz"), "keys.tar.xz!id_ed25519", "named like"),
    "gz of one file": (lambda: gzip.compress(_pem().encode()), "keys.gz!keys", "PEM private key"),
    "gz keeping its name": (lambda: _gzip_named(".env", b"DB_PASSWORD=x\n"), "keys.gz!.env", "named like"),
    "bz2 of one file": (lambda: bz2.compress(FAKE_AWS_PAIR.encode()), "keys.bz2!keys", "AWS access key"),
    "xz of one file": (lambda: lzma.compress(NETRC.encode()), "keys.xz!keys", "netrc"),
    "zip in a zip": (
        lambda: _zip({"lib/inner.zip": _zip({"id_rsa": _pem()})}),
        "keys.zip!lib/inner.zip!id_rsa",
        "PEM private key",
    ),
    "tar.gz in a zip": (
        lambda: _zip({"inner.tar.gz": _tar({"x/.netrc": NETRC}, "w:gz")}),
        "keys.zip!inner.tar.gz!x/.netrc",
        "netrc",
    ),
    "a zip under another name": (lambda: _zip({"id_rsa": _pem()}), "keys.dat!id_rsa", "PEM private key"),
}
FILE_NAMES = {
    "tar": "keys.tar",
    "tar.gz": "keys.tar.gz",
    "tgz": "keys.tgz",
    "tar.bz2": "keys.tar.bz2",
    "tar.xz": "keys.tar.xz",
    "gz of one file": "keys.gz",
    "gz keeping its name": "keys.gz",
    "bz2 of one file": "keys.bz2",
    "xz of one file": "keys.xz",
    "a zip under another name": "keys.dat",
}

# A credential written in another form inside a file with a harmless name: (its text or bytes, what is said).
ENCODED: dict[str, tuple[Callable[[], str | bytes], str]] = {
    "vault/data/key.hex": (lambda: _pem().encode().hex(), "hex-encoded"),
    "vault/data/key_upper.txt": (lambda: "key = " + _pem().encode().hex().upper() + "\n", "hex-encoded"),
    "vault/data/key.xxd": (lambda: _xxd_plain(_pem().encode()), "hex-encoded"),
    "vault/data/key_der.hex": (lambda: _der().hex(), "DER"),
    "vault/data/key_der.txt": (lambda: "PRIVATE_KEY=" + base64.b64encode(_der()).decode() + "\n", "DER"),
    "vault/data/key.der": (lambda: _der(), "DER"),
    "vault/data/key7.txt": (
        lambda: _utf7_dashes(_fake_pem()),
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in UTF-7",
    ),
    "vault/data/key7each.txt": (
        lambda: _utf7_each_dash(_fake_pem()),
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in UTF-7",
    ),
    "vault/split_begin.py": (
        _python_split_begin,
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in string pieces",
    ),
    "vault/plus_joined.py": (
        _python_plus_joined,
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in string pieces",
    ),
    "vault/escaped.py": (_python_escaped, "PEM private key (-----BEGIN ... PRIVATE KEY-----), in string pieces"),
    "templates/key.js": (
        _javascript_plus_joined,
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in string pieces",
    ),
    "vault/data/key_escaped.json": (
        lambda: json.dumps({"key": _fake_pem()}).replace("-", "\\u002d"),
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), written with escapes",
    ),
    "vault/data/key.url": (
        lambda: "key=" + urllib.parse.quote(_fake_pem()),
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), written with escapes",
    ),
    "templates/key.html": (
        lambda: "<pre>" + _fake_pem().replace("-", "&#45;") + "</pre>",
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), written with escapes",
    ),
    "vault/data/key.h": (
        lambda: "unsigned char key[] = {" + ", ".join(f"0x{b:02x}" for b in _fake_pem().encode()) + "};\n",
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), hex-encoded",
    ),
    "vault/joined_list.py": (
        lambda: (
            "KEY = ''.join(['-----BEGIN ', 'RSA PRIVATE KEY-----\\n', "
            + ", ".join(repr(line + "\n") for line in _fake_pem().splitlines()[1:])
            + "])\n"
        ),
        "PEM private key (-----BEGIN ... PRIVATE KEY-----), in string pieces",
    ),
    # a real key's body without its BEGIN and END lines is DER in base64, whatever is around it
    "vault/data/body.py": (lambda: "BODY = " + repr("".join(_pem().splitlines()[1:-1])) + "\n", "DER"),
}

# Names that look like a credential's to a reader, but are other letters: (the name, the name it looks like).
LOOKALIKES = {
    "vault/data/\u0456d_rsa": "id_rsa",  # Cyrillic i
    "vault/data/\uff49\uff44\uff3f\uff52\uff53\uff41": "id_rsa",  # fullwidth
    "vault/data/\u0399D_RSA": "id_rsa",  # Greek capital iota
    "vault/data/id\u200b_rsa": "id_rsa",  # a zero-width space
    "vault/data/\u0455ecrets.json": "secrets.json",  # Cyrillic dze
    "vault/data/cr\u0435dentials": "credentials",  # Cyrillic ie
    "vault/data/credenti\u00e1ls.csv": "credentials.csv",  # an accent
    "vault/data/\u0435nv": "env",
    "vault/data/n\u0435tr\u0441": "netrc",
    "vault/\u0455ecrets/db.txt": "secrets/db.txt",  # a folder
    "vault/data/prod.\u0435nv": "prod.env",
}


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _refusal(app_dir: Path) -> str:
    """The error packaging the app at `app_dir` stops with (the test fails, listing what ships, if it ships)."""
    try:
        shipped = [name for name, _ in app_files(load_app(app_dir))]
    except DeployError as exc:
        return str(exc)
    raise AssertionError(f"nothing was refused; these ship: {shipped}")


def _line(message: str, name: str) -> str:
    """The line of a refusal that names `name` (as the start of `  name: looks like ...`)."""
    return next((line for line in message.splitlines() if line.strip().startswith(f"{name}:")), "")


def _include(app_dir: Path, *names: str) -> None:
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('python = "3.12"\n', f'python = "3.12"\ninclude = {json.dumps(list(names))}\n')
    )


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return copy_app(VAULT, tmp_path)


# -- 1. archives --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_a_credential_inside_an_archive_stops_the_build_naming_the_member(vault: Path, case: str) -> None:
    make, shown, looks_like = ARCHIVES[case]
    file = f"vault/data/{FILE_NAMES.get(case, 'keys.zip')}"
    _write(vault / file, make())
    message = _refusal(vault)
    line = _line(message, f"vault/data/{shown}")
    assert looks_like in line, f"{shown} is not named as {looks_like!r} in:\n{message}"
    assert f'include = ["{file}"]' in message  # the fix names the archive, not its member
    assert "PLANTED" not in message and "planted" not in message


def test_an_archive_of_harmless_files_ships_and_an_exact_include_ships_a_flagged_one(vault: Path) -> None:
    harmless = {
        "pkg/__init__.py": "VERSION = '1'\n",
        "pkg/data.json": '{"sha256": "' + "ab" * 32 + '"}\n',
        "pkg/tests/test_it.py": "def test_it():\n    pass\n",  # what the rules leave out of the app is no credential
        "__MACOSX/._data.json": b"\x00\x05\x16\x07",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "README": "a wheel",
    }
    _write(vault / "vault/data/lib.zip", _zip(harmless))
    _write(vault / "vault/data/lib.tar.gz", _tar({k: v for k, v in harmless.items() if isinstance(v, str)}, "w:gz"))
    _write(vault / "vault/data/prices.json.gz", gzip.compress(b'{"tea": 3}\n'))
    _write(vault / "vault/data/nested.zip", _zip({"inner.zip": _zip(harmless)}))
    names = {name for name, _ in app_files(load_app(vault))}
    assert {
        "vault/data/lib.zip",
        "vault/data/lib.tar.gz",
        "vault/data/prices.json.gz",
        "vault/data/nested.zip",
    } <= names

    _write(vault / "vault/data/keys.zip", _zip({"id_rsa": _pem()}))
    assert "vault/data/keys.zip!id_rsa" in _refusal(vault)
    _include(vault, "vault/data/keys.zip")
    assert "vault/data/keys.zip" in {name for name, _ in app_files(load_app(vault))}


def test_an_archive_nested_too_deep_too_big_or_unreadable_is_refused_naming_include(
    vault: Path, monkeypatch: Any
) -> None:
    data = vault / "vault" / "data"
    _write(data / "deep.zip", _zip({"b.zip": _zip({"c.zip": _zip({"x.txt": "harmless\n"})})}))
    _write(data / "many.zip", _zip({f"f{i}.txt": "harmless\n" for i in range(20)}))
    _write(data / "big.tar.gz", _tar({"a.bin": b"\0" * 4096}, "w:gz"))
    _write(data / "bomb.gz", gzip.compress(b"\0" * 4096))
    _write(data / "broken.tar.gz", gzip.compress(_tar({"x.txt": "harmless\n"}))[:60])
    _write(data / "broken.zip", b"PK\x03\x04" + b"\x00" * 40)
    _write(data / "keys.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40)
    monkeypatch.setattr(packaging, "ARCHIVE_MEMBERS", 10)
    monkeypatch.setattr(packaging, "ARCHIVE_BYTES", 2048)
    message = _refusal(vault)
    assert "nested" in _line(message, "vault/data/deep.zip!b.zip!c.zip"), message
    assert "more than 10 files" in _line(message, "vault/data/many.zip"), message
    assert "unpacks to more than" in _line(message, "vault/data/big.tar.gz"), message
    assert "unpacks to more than" in _line(message, "vault/data/bomb.gz"), message
    assert "cannot be read" in _line(message, "vault/data/broken.tar.gz"), message
    assert "cannot be read" in _line(message, "vault/data/broken.zip"), message
    assert "a 7z archive, which portable-fn cannot open" in _line(message, "vault/data/keys.7z"), message
    for name in ("deep.zip", "many.zip", "big.tar.gz", "bomb.gz", "broken.tar.gz", "broken.zip"):
        assert "`include`" in _line(message, f"vault/data/{name}") or name == "deep.zip", message

    _include(
        vault, *(f"vault/data/{n}" for n in ("deep.zip", "many.zip", "big.tar.gz", "bomb.gz", "broken.zip", "keys.7z"))
    )
    _write(data / "broken.tar.gz", b"not an archive at all, whatever its name says\n")
    names = {name for name, _ in app_files(load_app(vault))}
    assert {"vault/data/deep.zip", "vault/data/bomb.gz", "vault/data/broken.tar.gz"} <= names


def test_package_list_names_the_archive_and_its_member(vault: Path, capsys: Any) -> None:
    _write(vault / "vault/data/backup.tar.gz", _tar({"home/me/.aws/credentials": FAKE_AWS_PAIR}, "w:gz"))
    assert main(["package", str(vault), "--provider", "aws", "--list"]) == 1
    err = capsys.readouterr().err
    assert "vault/data/backup.tar.gz!home/me/.aws/credentials: looks like" in err
    assert 'include = ["vault/data/backup.tar.gz"]' in err and "AKIA" not in err


# -- 2. encodings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_a_credential_in_another_encoding_stops_the_build(vault: Path, name: str) -> None:
    make, looks_like = ENCODED[name]
    _write(vault / name, make())
    message = _refusal(vault)
    assert looks_like in _line(message, name), message


def test_hex_digests_certificates_and_ordinary_code_are_not_refused(vault: Path) -> None:
    digests = [os.urandom(32).hex() for _ in range(40)]
    pem_certificate = _certificate(serialization.Encoding.PEM).decode()
    der_certificate = _certificate(serialization.Encoding.DER)
    files: dict[str, str | bytes] = {
        "vault/data/requirements.lock": "".join(
            f"pkg{i}==1.0 \\\n    --hash=sha256:{d}\n" for i, d in enumerate(digests)
        ),
        "vault/data/SHA256SUMS": "".join(f"{d}\n" for d in digests),  # hashes alone, one a line
        "vault/data/sha512.txt": os.urandom(64).hex() + "\n",
        "vault/data/blob.hex": os.urandom(400).hex(),
        "vault/data/ca.crt": pem_certificate,
        "vault/data/ca.txt": "CA=" + base64.b64encode(der_certificate).decode() + "\n",
        "vault/data/ca.der": der_certificate,
        "vault/data/ca.hex": der_certificate.hex(),
        "vault/data/price_list.txt": "C++ABI +ADD +AC0 tea +1\n",
        "vault/constants.py": 'BEGIN = "-----BEGIN " "PRIVATE KEY-----"  # a marker, no key\nA = "x" + "y"\n',
        "vault/broken.py": 'def f(:\n    "-----BEGIN "\n',
    }
    for name, content in files.items():
        _write(vault / name, content)
    names = {name for name, _ in app_files(load_app(vault))}
    assert set(files) <= names


# -- 3. lookalike names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_a_name_that_looks_like_a_credential_s_stays_out(vault: Path, name: str) -> None:
    _write(vault / name, NOT_SHAPED)
    names = {shipped for shipped, _ in app_files(load_app(vault))}
    assert name not in names, f"{name} (looks like {LOOKALIKES[name]}) ships"
    assert "vault/data/prices.json" in names


# -- 4. links -----------------------------------------------------------------------------------------------


def test_a_hard_link_to_a_credential_is_read_whatever_its_name(vault: Path) -> None:
    _write(vault / ".ssh/id_ecdsa", _pem())
    os.link(vault / ".ssh/id_ecdsa", vault / "vault/data/notes.txt")
    message = _refusal(vault)
    assert "PEM private key" in _line(message, "vault/data/notes.txt") or "hard link" in _line(
        message, "vault/data/notes.txt"
    ), message


def test_a_hard_link_to_a_file_outside_the_app_or_one_that_does_not_ship_stops_the_build(
    vault: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _write(home / ".config/app/settings", "DB_PASSWORD=hunter2\n")  # no shape: only where it lies tells
    os.link(home / ".config/app/settings", vault / "vault/data/settings.txt")
    _write(vault / ".env", "DB_PASSWORD=hunter2\n")
    os.link(vault / ".env", vault / "vault/data/defaults.txt")
    os.link(vault / "vault/data/prices.json", vault / "vault/data/prices-copy.json")  # both names ship: fine
    message = _refusal(vault)
    assert "hard link" in _line(message, "vault/data/settings.txt"), message
    assert "hard link" in _line(message, "vault/data/defaults.txt"), message
    assert "prices" not in message and "hunter2" not in message

    _include(vault, "vault/data/settings.txt", "vault/data/defaults.txt")
    names = {name for name, _ in app_files(load_app(vault))}
    assert {"vault/data/settings.txt", "vault/data/defaults.txt", "vault/data/prices-copy.json"} <= names


def test_a_symbolic_link_to_a_folder_outside_the_app_ships_nothing_of_it(vault: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write(home / ".aws/credentials", FAKE_AWS_PAIR)
    _write(home / "notes.txt", "harmless\n")
    (vault / "vault" / "data" / "home").symlink_to(home, target_is_directory=True)
    names = {name for name, _ in app_files(load_app(vault))}
    assert not [name for name in names if name.startswith("vault/data/home")]


# -- 5. a source directory outside the app ------------------------------------------------------------------


@pytest.mark.parametrize("source", ["..", "ABSOLUTE", "src-link", "../deploy/.."])
def test_a_source_outside_the_app_is_refused_naming_the_setting(tmp_path: Path, source: str) -> None:
    home = copy_app(VAULT, tmp_path)  # the code, one folder up from the pyproject.toml that points at it
    (home / "notes.txt").write_text("harmless\n")
    app_dir = home / "deploy"
    app_dir.mkdir()
    (app_dir / "src-link").symlink_to(home, target_is_directory=True)
    value = str(home) if source == "ABSOLUTE" else source
    pyproject = (
        (home / "pyproject.toml")
        .read_text()
        .replace('python = "3.12"\n', f'python = "3.12"\nsource = {json.dumps(value)}\n')
    )
    (app_dir / "pyproject.toml").write_text(pyproject)
    with pytest.raises(ConfigError) as caught:  # when the app loads: dev would import and watch it too
        load_app(app_dir)
    message = str(caught.value)
    assert "source = " in message and "[tool.portable-fn]" in message and "outside" in message, message
    assert str(app_dir) in message
