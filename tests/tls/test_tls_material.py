"""pyhttpd.tls without a server: the one-line errors, and key material read once for workers."""

import fcntl
import os
import shutil

import pytest

from pyhttpd.tls import TLSConfigError, TLSFiles, context_from_fd, load_material, material_fd, server_context


def test_material_is_read_once_and_loads_from_its_sealed_memfd(pki, server_cert, tmp_path):
    key, password_file = pki.encrypt_key(server_cert.key, "pw")
    files = TLSFiles(str(server_cert.cert), str(key), str(password_file))
    material = load_material(files)
    assert material.password == "pw" and material.files == files
    password_file.write_text("changed\n")  # later changes to the files do not matter
    fd, password_fd = material.worker_fds()
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SEAL
        password = os.pread(password_fd, 4096, 0).decode()
        context_from_fd(fd, password)  # loads: chain, encrypted key and its password
    finally:
        os.close(fd)
        os.close(password_fd)
    assert "pw" not in repr(material) and "PRIVATE" not in repr(material)


def test_key_inside_the_certificate_file_is_copied_once(pki, server_cert, tmp_path):
    combined = tmp_path / "combined.pem"
    combined.write_bytes(server_cert.cert.read_bytes() + server_cert.key.read_bytes())
    for files in (TLSFiles(str(combined)), TLSFiles(str(combined), str(combined))):
        fd = material_fd(files)
        try:
            pem = os.pread(fd, 1 << 20, 0)
        finally:
            os.close(fd)
        assert pem.count(b"BEGIN CERTIFICATE") == 1 and pem.count(b"PRIVATE KEY-----") == 2  # BEGIN, END
        assert load_material(files).pem == pem


def test_expired_certificate_is_refused(pki):
    expired = pki.issue("old", expired=True)
    with pytest.raises(TLSConfigError, match=r"^certificate .*old\.pem expired on 2020-02-01$"):
        load_material(TLSFiles(str(expired.cert), str(expired.key)))


def test_unreadable_files_name_themselves(server_cert, tmp_path):
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(TLSConfigError, match=f"^cannot read key {directory}: Is a directory$"):
        server_context(str(server_cert.cert), str(directory))
    damaged = tmp_path / "damaged.pem"
    damaged.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSConfigError, match="^certificate .*damaged.pem cannot be decoded"):
        server_context(str(damaged), str(server_cert.key))
    shutil.copyfile(server_cert.key, tmp_path / "key-only.pem")
    with pytest.raises(TLSConfigError, match="holds no PEM certificate"):
        server_context(str(tmp_path / "key-only.pem"))
