"""``hash``: print file digests as JSON lines, or verify a sha256sum-style manifest."""

from __future__ import annotations

from pathlib import Path

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command
from orchastration.errors import UsageError
from orchastration.logs import log
from orchastration.outcomes import CheckStatus, exit_code_for


def register(sub: SubParsers) -> None:
    p = add_command(sub, "hash", "hash files, or check a sha256sum-style manifest", run)
    p.add_argument(
        "--file", dest="files", action="append", default=[], metavar="PATH", help="file to hash (repeatable)"
    )
    p.add_argument("--check", metavar="MANIFEST", help="verify '<hex>  <path>' lines (sha256sum -c)")
    p.add_argument("--algo", metavar="NAME", help="sha256 sha1 sha512 md5 blake2b sha3_256 (default: [hash].algorithm)")


def run(app: App) -> int:
    from orchastration.hashing import check_manifest, hash_file, normalize_algorithm

    args = app.args
    if not args.files and not args.check:
        raise UsageError("hash: give --file PATH (repeatable) or --check MANIFEST")
    if args.files and args.check:
        raise UsageError("hash: --file and --check cannot be combined")
    explicit = normalize_algorithm(args.algo) if args.algo else None
    if args.check:
        results = check_manifest(app.cwd / Path(args.check).expanduser(), explicit)
        failed = 0
        for result in results:
            render.show(app, render.check(result))
            if result.status == CheckStatus.FAILED:
                failed += 1
                log(app.logger, "warn", "checksum mismatch", file=result.path, detail=result.detail or "mismatch")
        if failed:
            log(app.logger, "warn", f"{failed} of {len(results)} computed checksums did NOT match", manifest=args.check)
        return exit_code_for(r.status for r in results)
    algo = explicit or app.config.hash.algorithm
    for name in args.files:
        path = (app.cwd / Path(name).expanduser()).absolute()
        render.show(app, render.file_hash(str(path), algo, hash_file(path, algo)), as_json=True)
    return 0
