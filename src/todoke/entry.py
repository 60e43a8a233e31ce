"""The ``todoke`` executable's entry point.

``todoke classify`` is often run over thousands of files from scripts, so it starts without
loading the rest of the CLI (Typer, asyncio, the web stack): about 100 ms less per call.
Every other command goes to todoke.cli.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["classify"] and not {"-h", "--help"} & set(args):
        import os

        from todoke.mail.bounce.command import main as classify

        rules = os.environ.get("TODOKE_BOUNCE_RULES", "").strip()
        if rules:
            from todoke.mail.bounce import load_rules

            try:
                load_rules(rules)
            except (OSError, ValueError, KeyError) as exc:
                print(f"todoke: TODOKE_BOUNCE_RULES={rules}: {exc}", file=sys.stderr)
                sys.exit(2)
        sys.exit(classify(args[1:]))
    from todoke.cli import main as cli

    cli()
