"""Which way renkei reaches the MA (``ma.access``), and what a spec may ask for on each.

``integration``: the Data Integration Option's own API (reads, search, cuts of action histories and
masters, bulk writes) — open only to whoever runs the option (the vendor, or a partner it grants
access). ``public``: what every MA user has — the public customer API v4 for writes and the customer
CSV the admin screen exports for reads. Action histories and masters exist only inside the option,
so under ``public`` every mapping that needs them is refused, saying why.
"""

from __future__ import annotations

from collections.abc import Iterator

from schemas.spec import Problem, Spec, Target

PUBLIC = "public"


def access_problems(spec: Spec, targets: list[tuple[int, Target]]) -> Iterator[Problem]:
    """What ``ma.access`` forbids or needs, located in the file (``targets``: index in the file, target)."""
    if spec.ma.access != PUBLIC:
        if not spec.ma.token.get_secret_value():
            yield Problem(
                "ma.token", "token", "missing_key", "the integration API needs its token: add ma.token"
            )
        return
    keys = spec.ma.v4
    if keys is None:
        yield Problem(
            "ma.v4",
            "v4",
            "public_needs_v4_keys",
            "writes go through the public API v4: add ma.v4 with its four keys"
            " (user_key, user_secret, company_key, company_secret)",
        )
    reads = any(spec.direction(f).reads for t in spec.targets for f in t.map)
    if reads and not spec.ma.exports:
        yield Problem(
            "ma.exports",
            "exports",
            "public_needs_exports",
            "readable fields come from the admin screen's customer export: set ma.exports to its folder",
        )
    for index, target in targets:
        for what, kinds in (("actions", target.actions), ("masters", target.masters)):
            for kind in kinds:
                yield Problem(
                    f"targets[{index}].{what}.{kind}",
                    kind,
                    f"public_no_{what}",
                    f"{what} exist only inside the Data Integration Option (ma.access: public): remove this "
                    "mapping, or use ma.access: integration where the option's operator runs renkei",
                )
