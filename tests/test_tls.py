"""TLS: a TLS-only scheduler and workers started by cluster/, a throwaway CA; certified clients only."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from distributed import Client
from distributed.security import Security

from .procs import ScriptCluster, cli

pytestmark = pytest.mark.cluster
PARTITION = "256KiB"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_ca(folder: Path, name: str):
    """A self-signed CA: (certificate, key), written to NAME.pem / NAME.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, folder / f"{name}.key")
    return cert, key


def make_cert(folder: Path, name: str, ca) -> tuple[str, str]:
    """A certificate for NAME signed by ``ca``, valid for 127.0.0.1; returns (cert path, key path)."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, folder / f"{name}.key")
    return str(folder / f"{name}.pem"), str(folder / f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder, "ca")
    cluster_cert, cluster_key = make_cert(folder, "cluster", ca)
    client_cert, client_key = make_cert(folder, "client", ca)
    stranger_cert, stranger_key = make_cert(folder, "stranger", make_ca(folder, "other-ca"))
    return {"ca": str(folder / "ca.pem"), "cluster_cert": cluster_cert, "cluster_key": cluster_key,
            "client_cert": client_cert, "client_key": client_key,
            "stranger_cert": stranger_cert, "stranger_key": stranger_key}


@pytest.fixture(scope="module")
def tls_cluster(pki, tmp_path_factory):
    tls = ["--tls-ca-file", pki["ca"], "--tls-cert", pki["cluster_cert"], "--tls-key", pki["cluster_key"]]
    cluster = ScriptCluster(tmp_path_factory.mktemp("tls-logs"), protocol="tls", tls=tls)
    try:
        cluster.start_scheduler()
        cluster.start_worker("w0")
        cluster.start_worker("w1")
        security = Security(tls_ca_file=pki["ca"], tls_client_cert=pki["client_cert"],
                            tls_client_key=pki["client_key"], require_encryption=True)
        with Client(cluster.address, security=security, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        cluster.close()


def _convert(capture: Path, output: Path, cluster: ScriptCluster, *extra: str):
    # A refused TLS handshake is retried until the connect timeout: keep it short for the refusals.
    return cli("convert", str(capture), "-o", str(output), "--partition-size", PARTITION, "--no-progress",
               "--scheduler", cluster.address, *extra, env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"})


def test_certified_client_converts_on_a_tls_only_cluster(tls_cluster, pki, small_capture, tmp_path) -> None:
    output = tmp_path / "conn.csv"
    code, _, err = _convert(small_capture, output, tls_cluster, "--tls-ca", pki["ca"],
                            "--tls-cert", pki["client_cert"], "--tls-key", pki["client_key"])
    assert code == 0, err
    reference = tmp_path / "local.csv"
    code, _, err = cli("convert", str(small_capture), "-o", str(reference), "--partition-size", PARTITION,
                       "--workers", "1", "--no-progress")
    assert code == 0, err
    assert output.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("who", ["no certificate", "another CA", "plain tcp"])
def test_uncertified_client_is_refused(tls_cluster, pki, small_capture, tmp_path, who) -> None:
    output = tmp_path / "conn.csv"
    if who == "no certificate":
        code, _, err = _convert(small_capture, output, tls_cluster)
        assert "is a TLS scheduler: give --tls-ca" in err
    elif who == "another CA":
        code, _, err = _convert(small_capture, output, tls_cluster, "--tls-ca", pki["ca"],
                                "--tls-cert", pki["stranger_cert"], "--tls-key", pki["stranger_key"])
        assert "cannot connect to the Dask scheduler" in err
    else:
        address = tls_cluster.address.replace("tls://", "tcp://")
        code, _, err = cli("convert", str(small_capture), "-o", str(output), "--scheduler", address,
                           "--no-progress", env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"})
        assert "cannot connect to the Dask scheduler" in err
    assert code == 2, err
    assert "Traceback" not in err and not output.exists()


def test_tls_options_are_checked_before_connecting(pki, tmp_path: Path) -> None:
    from workflows.cluster import tls_security
    from workflows.errors import UsageError

    address = "tls://127.0.0.1:8786"
    assert tls_security("tcp://127.0.0.1:8786") is None
    security = tls_security(address, pki["ca"], pki["client_cert"], pki["client_key"])
    assert security.require_encryption and security.tls_client_cert == pki["client_cert"]
    for args, message in [
        ((address,), "is a TLS scheduler"),
        ((None, pki["ca"], pki["client_cert"]), "for a remote --scheduler"),
        ((address, None, pki["client_cert"]), "--tls-ca is missing"),
        ((address, pki["ca"], None, pki["client_key"]), "--tls-cert is missing"),
        ((address, pki["ca"], str(tmp_path / "nope.pem")), "does not exist"),
    ]:
        with pytest.raises(UsageError, match=message):
            tls_security(*args)
