"""Install time of `installer/install.sh` vs a plain `pip install --no-index` of the same wheels.

The peer is what an administrator would do by hand with the same bundle and no checks: a venv
(`python3 -m venv`) and `pip install --no-index --find-links wheels/` of the third-party wheels, then the
appliance wheel with --no-deps.  install.sh additionally copies the bundle to staging, verifies the
signature and every hash, checks policy, pins hashes, copies models/installer/hardening, runs `appliance
doctor` and switches `current` atomically.  Prints one JSON line; the ratio is install.sh / plain.

    .venv/bin/python benchmarks/install_time.py                       # builds the test bundle first
    .venv/bin/python benchmarks/install_time.py --bundle dist/appliance-cpu --pubkey installer/vendor.pub.pem
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _test_bundle(work: Path) -> tuple[Path, Path]:
    """Build bundles/test.toml with a throw-away vendor key; returns (bundle, installer copy pinning it)."""
    sys.path.insert(0, str(REPO))
    from appliance.bundle import build

    key = work / "bench.key.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True
    )
    installer = work / "installer"
    shutil.copytree(REPO / "installer", installer)
    subprocess.run(
        ["openssl", "ec", "-in", str(key), "-pubout", "-out", str(installer / "vendor.pub.pem")],
        check=True,
        capture_output=True,
    )
    bundle = work / "bundle"
    build(REPO / "bundles" / "test.toml", bundle, key, installer_dir=installer)
    return bundle, installer


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:4])} … failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="a built bundle (default: build bundles/test.toml)")
    ap.add_argument(
        "--pubkey", type=Path, help="vendor public key for --bundle (default: the bundle's installer)"
    )
    args = ap.parse_args()
    netns = (
        ["unshare", "-n"]
        if subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
        else []
    )
    with tempfile.TemporaryDirectory(prefix="appliance-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        if args.bundle:
            bundle = args.bundle.absolute()
            installer = work / "installer"
            shutil.copytree(bundle / "installer", installer)
            if args.pubkey:
                shutil.copy2(args.pubkey, installer / "vendor.pub.pem")
        else:
            bundle, installer = _test_bundle(work)
        manifest = json.loads((bundle / "MANIFEST.json").read_text())

        t_installer = _timed(
            [
                *netns,
                "sh",
                str(installer / "install.sh"),
                "--bundle",
                str(bundle),
                "--prefix",
                str(work / "prefix"),
                "--home",
                str(work / "home"),
                "--yes",
                "--no-system",
            ]
        )

        plain = work / "plain"
        wheels = bundle / "wheels"
        app_wheel = bundle / manifest["install"]["appliance_wheel"]
        others = [str(w) for w in sorted(wheels.glob("*.whl")) if w != app_wheel]
        t0 = time.perf_counter()
        _timed(["python3", "-m", "venv", str(plain)])
        pip = [
            str(plain / "bin" / "python"),
            "-m",
            "pip",
            "--isolated",
            "--disable-pip-version-check",
            "--no-input",
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "--quiet",
        ]
        _timed([*netns, *pip, *others])
        _timed([*netns, *pip, "--no-deps", str(app_wheel)])
        t_plain = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "benchmark": "install_time",
                "bundle": manifest["name"],
                "version": manifest["version"],
                "wheels": len(others) + 1,
                "bundle_mb": round(manifest["total_bytes"] / 2**20, 1),
                "network_namespace": bool(netns),
                "install_sh_s": round(t_installer, 2),
                "plain_pip_s": round(t_plain, 2),
                "ratio_install_sh_vs_plain": round(t_installer / t_plain, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
