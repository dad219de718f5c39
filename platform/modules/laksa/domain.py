"""Pure Laksa rules: no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DefaultRule:
    code: str
    hashtags: tuple[str, ...]
    agency_code: str
    category_code: str
    priority: str
    sla_hours: int
    precedence: int


# What a new city starts with; the city admin edits these later.
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule("kebakaran", ("kebakaran", "api", "fire"), "damkar", "fire", "emergency", 1, 10),
    DefaultRule("sarang-tawon", ("tawon", "sarangtawon", "lebah"), "damkar", "wasp-nest", "emergency", 2, 20),
    DefaultRule("banjir", ("banjir", "flood", "genangan"), "bpbd", "flood", "emergency", 2, 30),
    DefaultRule("bencana", ("bencana", "longsor", "pohontumbang"), "bpbd", "disaster", "high", 4, 40),
    DefaultRule(
        "jalan-rusak", ("jalanrusak", "jalanberlubang", "infrastruktur"), "pupr", "road", "normal", 72, 100
    ),
    DefaultRule("drainase", ("drainase", "saluranmampet", "gorong"), "pupr", "drainage", "normal", 72, 110),
    DefaultRule("pju", ("pju", "lampujalan", "lampumati"), "pupr", "street-lamp", "normal", 48, 120),
    DefaultRule("sampah", ("sampah", "tps", "kebersihan"), "dlh", "rubbish", "normal", 48, 130),
    DefaultRule("macet", ("macet", "lalulintas", "parkirliar"), "dishub", "traffic", "high", 4, 140),
    DefaultRule(
        "ketertiban", ("pkl", "ketertiban", "premanisme"), "satpol-pp", "public-order", "normal", 48, 150
    ),
    DefaultRule("kesehatan", ("ambulans", "kesehatan", "dbd"), "dinkes", "health", "high", 24, 160),
    DefaultRule("sosial", ("odgj", "gelandangan", "anakjalanan"), "dinsos", "social", "normal", 72, 170),
)
