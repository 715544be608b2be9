"""`appliance bundle` (lock, build, verify, transition) and `appliance upgrade --bundle DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, console, emit, err_console, get_home, kv_table

app = typer.Typer(help="Build and verify signed offline bundles (USB).")

SpecOpt = Annotated[Path, typer.Option("--spec", help="Bundle spec, e.g. bundles/cpu.toml.", dir_okay=False)]
NoExtraOpt = Annotated[
    bool,
    typer.Option("--no-extra-index", help="Use no extra index (spec's or pip config's), e.g. one this host "
                 "cannot reach; keep the wheels it served in a --find-links directory."),
]
IndexOpt = Annotated[
    str | None,
    typer.Option("--index-url", help="Package index to use (default: the spec's, else this host's pip config)."),
]
ExtraIndexOpt = Annotated[
    list[str] | None,
    typer.Option("--extra-index-url", help="Extra package index (repeatable; replaces the spec's/pip config's)."),
]
FindLinksOpt = Annotated[
    list[Path] | None, typer.Option("--find-links", help="Extra local wheel directory (repeatable).")
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bundle")
    root.command("upgrade")(upgrade_cmd)


def _progress(msg: str) -> None:
    err_console.print(f"[dim]·[/] {msg}", markup=True)


@app.command("lock")
def lock_cmd(
    spec: SpecOpt,
    index_url: IndexOpt = None,
    extra_index_url: ExtraIndexOpt = None,
    no_extra_index: NoExtraOpt = False,
    find_links: FindLinksOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Resolve the spec's requirements for its target and write the hash-pinned lock (staging host)."""
    from appliance.bundle import lock

    emit(
        lock(spec, index_url=index_url, extra_index_urls=extra_index_url, no_extra_index=no_extra_index,
             find_links=find_links, progress=_progress),
        json_out,
        lambda r: console.print(kv_table("lock written", r)),
    )


@app.command("build")
def build_cmd(
    spec: SpecOpt,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory (must not exist).")],
    vendor_key: Annotated[
        Path, typer.Option("--vendor-key", help="Vendor EC P-256 private key (PEM).", dir_okay=False)
    ],
    version: Annotated[
        str | None, typer.Option("--version", help="Override the spec's bundle version.")
    ] = None,
    installer_dir: Annotated[
        Path | None, typer.Option("--installer-dir", help="installer/ to ship (default: the checkout's).")
    ] = None,
    index_url: IndexOpt = None,
    extra_index_url: ExtraIndexOpt = None,
    no_extra_index: NoExtraOpt = False,
    find_links: FindLinksOpt = None,
    key_transition: Annotated[
        Path | None,
        typer.Option("--key-transition", help="key-transition.json (and its .sig) from `bundle transition`, "
                     "signed by the previous vendor key: lets this bundle install over the old key.", dir_okay=False),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Download/build every wheel, copy models, installer and hardening; write SBOM + signed MANIFEST.json."""
    from appliance.bundle import build

    result = build(
        spec,
        out,
        vendor_key,
        version=version,
        installer_dir=installer_dir,
        home=get_home(),
        index_url=index_url,
        extra_index_urls=extra_index_url,
        no_extra_index=no_extra_index,
        find_links=find_links,
        key_transition=key_transition,
        progress=_progress,
    )
    emit(
        result,
        json_out,
        lambda r: console.print(
            kv_table(
                f"bundle {r['name']} {r['version']}",
                {
                    k: r[k]
                    for k in (
                        "bundle",
                        "wheels",
                        "built_from_sdist",
                        "models",
                        "files",
                        "total_bytes",
                        "key_fingerprint",
                    )
                },
            )
        ),
    )


@app.command("verify")
def verify_cmd(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (e.g. the USB mount).")],
    pubkey: Annotated[
        Path | None, typer.Option("--pubkey", help="Vendor public key (default: pinned).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the signature, every file hash, and that nothing was added (exit 0 or 3)."""
    from appliance.bundle import verify

    emit(
        verify(bundle, pubkey=pubkey, home=get_home()),
        json_out,
        lambda r: console.print(
            kv_table(
                "bundle verified",
                {
                    k: r[k]
                    for k in (
                        "bundle",
                        "name",
                        "version",
                        "files",
                        "total_bytes",
                        "key_fingerprint",
                        "pubkey",
                    )
                }
                | ({"key transition": "{old_key_sha256:.16}… -> {new_key_sha256:.16}… ({reason})".format(
                    **r["key_transition"])} if r.get("key_transition") else {}),
            )
        ),
    )


@app.command("transition")
def transition_cmd(
    old_key: Annotated[Path, typer.Option("--old-key", help="The current vendor private key (PEM).", dir_okay=False)],
    new_pub: Annotated[Path, typer.Option("--new-pub", help="The new vendor public key (PEM).", dir_okay=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why the key changes (shown at install).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Statement file; its signature goes to OUT.sig.",
                                      dir_okay=False)] = Path("key-transition.json"),
    valid_days: Annotated[int, typer.Option("--valid-days", help="How long installers accept it.")] = 365,
    json_out: JsonOpt = False,
) -> None:
    """Sign, with the old vendor key, the switch to a new one (pass it to `bundle build --key-transition`)."""
    from appliance.bundle import transition

    emit(
        transition(old_key, new_pub, out, reason=reason, valid_days=valid_days, home=get_home()),
        json_out,
        lambda r: console.print(kv_table("key transition signed", {
            k: r[k] for k in ("statement", "signature", "old_key_sha256", "new_key_sha256", "not_before",
                              "not_after", "reason")})),
    )


def upgrade_cmd(
    bundle: Annotated[Path, typer.Option("--bundle", help="The new bundle (e.g. the USB mount).")],
    json_out: JsonOpt = False,
) -> None:
    """Install a newer signed bundle next to this one with the pinned installer (rollback refused)."""
    from appliance.bundle import upgrade

    result = upgrade(bundle, home=get_home())
    emit(
        result,
        json_out,
        lambda r: console.print(
            f"upgraded {r['prefix']}: {r['from']} -> {r['to']}" if r["changed"] else f"unchanged ({r['to']})"
        ),
    )
