"""The default catalogue every new city starts with; the city admin edits it later."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CatalogueAgency:
    code: str
    abbreviation: str
    name: str
    kind: str


DEFAULT_AGENCIES: tuple[CatalogueAgency, ...] = (
    CatalogueAgency("pupr", "PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "dinas"),
    CatalogueAgency("bpbd", "BPBD", "Badan Penanggulangan Bencana Daerah", "badan"),
    CatalogueAgency("dlh", "DLH", "Dinas Lingkungan Hidup", "dinas"),
    CatalogueAgency("dishub", "Dishub", "Dinas Perhubungan", "dinas"),
    CatalogueAgency("satpol-pp", "Satpol PP", "Satuan Polisi Pamong Praja", "satuan"),
    CatalogueAgency("damkar", "Damkar", "Dinas Pemadam Kebakaran dan Penyelamatan", "dinas"),
    CatalogueAgency("dinkes", "Dinkes", "Dinas Kesehatan", "dinas"),
    CatalogueAgency("dinsos", "Dinsos", "Dinas Sosial", "dinas"),
    CatalogueAgency("diskominfo", "Diskominfo", "Dinas Komunikasi dan Informatika", "dinas"),
    CatalogueAgency("disdukcapil", "Disdukcapil", "Dinas Kependudukan dan Pencatatan Sipil", "dinas"),
    CatalogueAgency("perkim", "Perkim", "Dinas Perumahan, Kawasan Permukiman dan Pertanahan", "dinas"),
    CatalogueAgency("polres", "Polres", "Kepolisian Resor", "partner"),
    CatalogueAgency("pdam", "PDAM", "Perusahaan Daerah Air Minum", "partner"),
    CatalogueAgency("pln", "PLN", "PT PLN (Persero) Unit Layanan Pelanggan", "partner"),
)
