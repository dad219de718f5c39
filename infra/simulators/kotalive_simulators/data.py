"""Deterministic demo data of the demo cities: SIAK residents, Simpeg staff, OpenID accounts, keys.

Everyone here is invented. Region, kecamatan and kelurahan names and codes are Kemendagri's; NIKs
and NIPs are built by the rules (``make_nik``, ``make_nip``) so that they pass the platform's checks.

Each city has
- residents of the city (NIK issued there, living there), one who moved in (NIK issued elsewhere,
  living here: residency is decided on ``kode_wilayah``, not on the NIK), one deceased, and a few
  non-residents (NIK and residence elsewhere, e.g. commuters who may register as non-residents);
- staff spread over the default agencies (unit codes = platform/tenants/catalogue.py codes), with a
  retired ("pensiun"), a moved ("mutasi") and a resigned ("berhenti") one to test leavers;
- an OpenID account per staff member (claim ``nip``) plus one consultant who is not in Simpeg.

``personas(city)`` names who to be for each role of a demo (``PERSONA_USERNAMES`` for employees).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

Sex = Literal["L", "P"]
WIB = timezone(timedelta(hours=7))
# Namespace for the deterministic OpenID subject identifiers (uuid5 of city + username).
SUBJECT_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-4f57-9a51-6b3c1d2e7f40")


def make_nik(kecamatan_code: str, birth: date, sex: Sex, serial: int) -> str:
    """16 digits: province 2 + regency 2 + kecamatan 2 (``kecamatan_code``), DDMMYY (women: DD + 40),
    serial 4."""
    if len(kecamatan_code) != 6 or not kecamatan_code.isdigit():
        raise ValueError("kecamatan_code is 6 digits (province, regency, kecamatan)")
    day = birth.day + (40 if sex == "P" else 0)
    return f"{kecamatan_code}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def make_nip(birth: date, appointed: str, sex: Sex, serial: int) -> str:
    """18 digits: birth date YYYYMMDD, appointment YYYYMM, sex (1 man, 2 woman), serial 3."""
    return f"{birth:%Y%m%d}{appointed}{1 if sex == 'L' else 2}{serial:03d}"


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # 4 digits
    name: str  # e.g. "Kota Tangerang"
    province: str


@dataclass(frozen=True, slots=True)
class Resident:
    """A SIAK record (``to_json`` is the contract's body); ``phone`` is only for demo registration."""

    nik: str
    nama: str
    tanggal_lahir: date
    jenis_kelamin: Sex
    alamat: str
    rt: str
    rw: str
    kelurahan: str
    kecamatan: str
    region: Region
    status_hidup: str = "hidup"
    phone: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nik": self.nik,
            "nama": self.nama,
            "tanggal_lahir": self.tanggal_lahir.isoformat(),
            "jenis_kelamin": self.jenis_kelamin,
            "alamat": self.alamat,
            "rt": self.rt,
            "rw": self.rw,
            "kelurahan": self.kelurahan,
            "kecamatan": self.kecamatan,
            "kabupaten_kota": self.region.name,
            "provinsi": self.region.province,
            "kode_wilayah": self.region.code,
            "status_hidup": self.status_hidup,
        }


@dataclass(frozen=True, slots=True)
class Employee:
    """A Simpeg record (``to_json`` is the contract's body) and the OpenID username of that person."""

    nip: str
    nama: str
    unit_kode: str
    unit_nama: str
    jabatan: str
    email: str
    telepon: str
    status: str
    updated_at: datetime
    username: str

    def to_json(self) -> dict[str, Any]:
        return {
            "nip": self.nip,
            "nama": self.nama,
            "unit_kerja": {"kode": self.unit_kode, "nama": self.unit_nama},
            "jabatan": self.jabatan,
            "email": self.email,
            "telepon": self.telepon,
            "status": self.status,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class OidcUser:
    """An account of a development OpenID provider; ``sub`` is stable, ``nip`` links to Simpeg."""

    sub: str
    username: str
    name: str
    email: str
    nip: str | None
    description: str = ""

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "sub": self.sub,
            "name": self.name,
            "preferred_username": self.username,
            "email": self.email,
            "email_verified": True,
        }
        if self.nip:
            claims["nip"] = self.nip
        return claims


@dataclass(frozen=True, slots=True)
class OidcClient:
    """A relying party of a development OpenID provider.

    ``client_secret`` None makes a public client (token endpoint auth "none"; PKCE is required for
    every client anyway). ``api_audience`` is the ``aud`` of the access tokens it gets.
    """

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    api_audience: str
    post_logout_redirect_uris: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OidcClient:
        return cls(
            client_id=str(data["client_id"]),
            client_secret=data.get("client_secret"),
            redirect_uris=tuple(data["redirect_uris"]),
            api_audience=str(data.get("api_audience") or data["client_id"]),
            post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "api_audience": self.api_audience,
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
        }


@dataclass(frozen=True, slots=True)
class Persona:
    role: str  # citizen, non_resident, employee, agency_supervisor, liveroom_operator, city_admin
    label: str
    name: str
    nik: str | None = None
    phone: str | None = None
    nip: str | None = None
    username: str | None = None


@dataclass(slots=True)
class DemoCity:
    slug: str
    region: Region
    email_domain: str
    residents: list[Resident]
    employees: list[Employee]
    extra_oidc_users: list[OidcUser] = field(default_factory=list)

    @property
    def siak_api_key(self) -> str:
        return f"siak-{self.slug}-dev-key"

    @property
    def simpeg_api_key(self) -> str:
        return f"simpeg-{self.slug}-dev-key"

    @property
    def sms_api_key(self) -> str:
        return f"sms-{self.slug}-dev-key"

    @property
    def smtp_username(self) -> str:
        return self.slug

    @property
    def smtp_password(self) -> str:
        """The city's password at the mail sink, also its key for the sink's JSON API."""
        return f"smtp-{self.slug}-dev-key"

    @property
    def mail_from(self) -> str:
        return f"noreply@{self.email_domain}"

    @property
    def mail_from_name(self) -> str:
        return f"Kota Live - {self.region.name}"

    @property
    def oidc_client_id(self) -> str:
        return f"kotalive-{self.slug}"

    @property
    def oidc_client_secret(self) -> str:
        return f"{self.slug}-oidc-dev-secret"

    @property
    def api_audience(self) -> str:
        return f"urn:kotalive:{self.slug}:api"

    def oidc_users(self) -> list[OidcUser]:
        roles = {username: role for role, username in PERSONA_USERNAMES.get(self.slug, {}).items()}
        users = []
        for e in self.employees:
            notes = [e.unit_nama, e.jabatan]
            if e.status != "aktif":
                notes.append(f"Simpeg: {e.status}")
            if e.username in roles:
                notes.append(f"demo {PERSONA_LABELS[roles[e.username]]}")
            users.append(
                OidcUser(
                    sub=subject(self.slug, e.username),
                    username=e.username,
                    name=e.nama,
                    email=e.email,
                    nip=e.nip,
                    description=" · ".join(notes),
                )
            )
        return users + self.extra_oidc_users

    def oidc_client(self, platform_port: int = 8000, callback_path: str = "/staff/callback") -> OidcClient:
        origin = f"http://{self.slug}.localhost:{platform_port}"
        return OidcClient(
            client_id=self.oidc_client_id,
            client_secret=self.oidc_client_secret,
            redirect_uris=(origin + callback_path,),
            api_audience=self.api_audience,
            post_logout_redirect_uris=(origin + "/",),
        )

    def employee(self, username: str) -> Employee:
        return next(e for e in self.employees if e.username == username)

    def resident(self, nik: str) -> Resident:
        return next(r for r in self.residents if r.nik == nik)


def subject(city: str, username: str) -> str:
    return str(uuid.uuid5(SUBJECT_NAMESPACE, f"{city}:{username}"))


# --- regions -------------------------------------------------------------------------------------

TANGERANG = Region("3671", "Kota Tangerang", "Banten")
BEKASI = Region("3275", "Kota Bekasi", "Jawa Barat")
TANGERANG_SELATAN = Region("3674", "Kota Tangerang Selatan", "Banten")
JAKARTA_PUSAT = Region("3171", "Kota Administrasi Jakarta Pusat", "Daerah Khusus Ibukota Jakarta")
DEPOK = Region("3276", "Kota Depok", "Jawa Barat")

# Kecamatan codes (Kemendagri) of the demo cities.
TANGERANG_KECAMATAN = {
    "Tangerang": "367101",
    "Jatiuwung": "367102",
    "Batuceper": "367103",
    "Benda": "367104",
    "Cipondoh": "367105",
    "Ciledug": "367106",
    "Karawaci": "367107",
    "Periuk": "367108",
    "Cibodas": "367109",
    "Neglasari": "367110",
    "Pinang": "367111",
    "Karang Tengah": "367112",
    "Larangan": "367113",
}
BEKASI_KECAMATAN = {
    "Bekasi Timur": "327501",
    "Bekasi Barat": "327502",
    "Bekasi Utara": "327503",
    "Bekasi Selatan": "327504",
    "Rawalumbu": "327505",
    "Medansatria": "327506",
    "Bantargebang": "327507",
    "Pondokgede": "327508",
    "Jatiasih": "327509",
    "Jatisampurna": "327510",
    "Mustikajaya": "327511",
    "Pondokmelati": "327512",
}


def _resident(
    region: Region,
    kecamatan_codes: dict[str, str],
    row: tuple[str, Sex, str, str, str, str, str, str],
    serial: int,
    *,
    phone: str | None = None,
    status: str = "hidup",
    nik_kecamatan_code: str | None = None,
) -> Resident:
    nama, sex, birth, kecamatan, kelurahan, alamat, rt, rw = row
    born = date.fromisoformat(birth)
    return Resident(
        nik=make_nik(nik_kecamatan_code or kecamatan_codes[kecamatan], born, sex, serial),
        nama=nama,
        tanggal_lahir=born,
        jenis_kelamin=sex,
        alamat=alamat,
        rt=rt,
        rw=rw,
        kelurahan=kelurahan,
        kecamatan=kecamatan,
        region=region,
        status_hidup=status,
        phone=phone,
    )


def _tangerang_residents() -> list[Resident]:
    r, k = TANGERANG, TANGERANG_KECAMATAN
    # fmt: off
    rows: list[tuple[str, Sex, str, str, str, str, str, str]] = [
        ("Siti Rahmawati", "P", "1990-07-05", "Cipondoh", "Poris Plawad", "Jl. Benteng Betawi No. 12", "003", "005"),
        ("Budi Santoso", "L", "1985-03-12", "Ciledug", "Sudimara Barat", "Jl. HOS Cokroaminoto No. 45", "002", "004"),
        ("Dewi Lestari", "P", "1993-11-21", "Karawaci", "Cimone", "Jl. Imam Bonjol Gg. Mawar No. 7", "001", "003"),
        ("Ahmad Fauzi", "L", "1978-01-30", "Tangerang", "Babakan", "Jl. Daan Mogot No. 88", "004", "002"),
        ("Nur Aisyah", "P", "2001-02-14", "Larangan", "Larangan Utara", "Jl. Raden Saleh No. 3", "005", "001"),
        ("Rudi Hartono", "L", "1969-08-17", "Karang Tengah", "Pondok Pucung", "Jl. Ciledug Raya No. 120", "002", "006"),
        ("Yuliana Sari", "P", "1988-06-09", "Pinang", "Kunciran", "Perum Kunciran Indah Blok C2 No. 9", "006", "007"),
        ("Hendra Wijaya", "L", "1995-12-03", "Benda", "Jurumudi", "Jl. Marsekal Suryadarma No. 21", "001", "001"),
        ("Fitri Handayani", "P", "1982-04-25", "Batuceper", "Poris Gaga", "Jl. Maulana Hasanudin No. 56", "003", "002"),
        ("Joko Susilo", "L", "1975-09-11", "Periuk", "Gebang Raya", "Perum Taman Cibodas Blok F No. 4", "007", "008"),
        ("Rina Marlina", "P", "1998-10-01", "Jatiuwung", "Alam Jaya", "Jl. Gatot Subroto Km. 5 No. 10", "002", "003"),
        ("Dedi Kurniawan", "L", "1991-05-19", "Cibodas", "Uwung Jaya", "Jl. Prabu Siliwangi No. 33", "004", "005"),
        ("Sri Wahyuni", "P", "1960-12-31", "Neglasari", "Kedaung Wetan", "Jl. Husein Sastranegara No. 2", "001", "002"),
        ("Andi Pratama", "L", "2004-03-08", "Cipondoh", "Ketapang", "Jl. KH Hasyim Ashari No. 77", "003", "001"),
        ("Maya Anggraini", "P", "1996-08-29", "Ciledug", "Paninggilan", "Jl. Inpres Raya No. 14", "008", "004"),
        ("Bambang Supriyadi", "L", "1955-02-02", "Karawaci", "Bugel", "Jl. Villa Tangerang Indah Blok B No. 1", "002", "009"),
    ]
    # fmt: on
    residents = [_resident(r, k, row, 1000 + i) for i, row in enumerate(rows, start=1)]
    residents[0] = _replace_phone(residents[0], "+6281210000001")
    residents[1] = _replace_phone(residents[1], "+6281210000002")
    residents.append(  # moved in from Kota Bandung: NIK says 3273, SIAK says lives in 3671
        _resident(
            r,
            k,
            (
                "Rizky Ramadhan",
                "L",
                "1994-03-03",
                "Tangerang",
                "Cikokol",
                "Jl. Jenderal Sudirman No. 5",
                "001",
                "004",
            ),
            2001,
            phone="+6281210000003",
            nik_kecamatan_code="327301",
        )
    )
    residents.append(
        _resident(
            r,
            k,
            ("Suparman", "L", "1940-05-05", "Tangerang", "Sukasari", "Jl. Kisamaun No. 40", "002", "001"),
            1099,
            status="meninggal",
        )
    )
    return residents


def _bekasi_residents() -> list[Resident]:
    r, k = BEKASI, BEKASI_KECAMATAN
    # fmt: off
    rows: list[tuple[str, Sex, str, str, str, str, str, str]] = [
        ("Nurhayati", "P", "1989-04-10", "Bekasi Timur", "Margahayu", "Jl. Ir. H. Juanda No. 101", "004", "011"),
        ("Eko Prasetyo", "L", "1984-10-22", "Bekasi Barat", "Kranji", "Jl. Sultan Agung No. 18", "002", "005"),
        ("Ratna Sari Dewi", "P", "1992-01-15", "Bekasi Utara", "Harapanjaya", "Jl. Perjuangan No. 66", "005", "012"),
        ("Agus Salim", "L", "1971-06-06", "Bekasi Selatan", "Kayuringinjaya", "Jl. Ahmad Yani No. 9", "001", "003"),
        ("Indah Permatasari", "P", "2000-09-09", "Rawalumbu", "Bojong Rawalumbu", "Jl. Rawalumbu Raya No. 27", "003", "015"),
        ("Slamet Riyadi", "L", "1966-11-11", "Medansatria", "Harapanmulya", "Jl. Sultan Agung Km. 27 No. 2", "006", "004"),
        ("Lilis Suryani", "P", "1980-02-28", "Bantargebang", "Cikiwul", "Jl. Raya Narogong Km. 7", "002", "001"),
        ("Fajar Nugroho", "L", "1997-07-17", "Pondokgede", "Jatiwaringin", "Jl. Raya Jatiwaringin No. 45", "009", "002"),
        ("Sinta Maharani", "P", "1994-05-05", "Jatiasih", "Jatiluhur", "Perum Jatiluhur Permai Blok A No. 8", "003", "006"),
        ("Yusuf Maulana", "L", "1986-12-12", "Jatisampurna", "Jatiranggon", "Jl. Raya Hankam No. 30", "001", "007"),
        ("Dian Puspitasari", "P", "1990-03-21", "Mustikajaya", "Mustikasari", "Perum Mutiara Gading Timur Blok D No. 3", "010", "021"),
        ("Taufik Hidayat", "L", "1979-08-08", "Pondokmelati", "Jatimurni", "Jl. Kav. DKI No. 12", "004", "003"),
        ("Kartini Wulandari", "P", "1963-04-21", "Bekasi Timur", "Arenjaya", "Jl. Arenjaya Raya No. 5", "002", "008"),
        ("Hadi Gunawan", "L", "2003-01-01", "Bekasi Selatan", "Pekayonjaya", "Jl. Pekayon Raya No. 71", "007", "010"),
        ("Mega Utami", "P", "1995-06-30", "Bekasi Barat", "Bintara", "Jl. Bintara Raya No. 19", "003", "002"),
        ("Sutrisno", "L", "1958-09-09", "Bekasi Utara", "Teluk Pucung", "Jl. Kaliabang Bungur No. 6", "001", "009"),
    ]
    # fmt: on
    residents = [_resident(r, k, row, 3000 + i) for i, row in enumerate(rows, start=1)]
    residents[0] = _replace_phone(residents[0], "+6281310000001")
    residents[1] = _replace_phone(residents[1], "+6281310000002")
    residents.append(  # moved in from Kota Surabaya
        _resident(
            r,
            k,
            (
                "Arif Rahman",
                "L",
                "1990-02-02",
                "Bekasi Selatan",
                "Jakasetia",
                "Jl. Galaxy Raya No. 88",
                "002",
                "013",
            ),
            4001,
            phone="+6281310000003",
            nik_kecamatan_code="357805",
        )
    )
    residents.append(
        _resident(
            r,
            k,
            ("Sukarti", "P", "1938-07-07", "Rawalumbu", "Pengasinan", "Jl. Pengasinan No. 3", "001", "002"),
            3099,
            status="meninggal",
        )
    )
    return residents


def _replace_phone(resident: Resident, phone: str) -> Resident:
    from dataclasses import replace

    return replace(resident, phone=phone)


def _outsiders() -> tuple[list[Resident], list[Resident]]:
    """Non-residents each demo SIAK also answers for: (for Tangerang, for Bekasi)."""
    tangsel = _resident(
        TANGERANG_SELATAN,
        {},
        (
            "Putri Ayu Lestari",
            "P",
            "1992-09-15",
            "Pondok Aren",
            "Pondok Kacang Timur",
            "Jl. Graha Raya Blok K No. 2",
            "004",
            "006",
        ),
        5001,
        phone="+6281210000009",
        nik_kecamatan_code="367403",
    )
    jakarta_1 = _resident(
        JAKARTA_PUSAT,
        {},
        ("Irfan Maulana", "L", "1987-07-07", "Menteng", "Gondangdia", "Jl. Cikini Raya No. 15", "002", "001"),
        5002,
        nik_kecamatan_code="317106",
    )
    jakarta_2 = _resident(
        JAKARTA_PUSAT,
        {},
        (
            "Rahmat Hidayat",
            "L",
            "1983-05-25",
            "Cempaka Putih",
            "Rawasari",
            "Jl. Rawasari Selatan No. 8",
            "006",
            "002",
        ),
        5003,
        nik_kecamatan_code="317105",
    )
    depok = _resident(
        DEPOK,
        {},
        (
            "Novi Andriani",
            "P",
            "1991-10-10",
            "Beji",
            "Kemiri Muka",
            "Jl. Margonda Raya No. 200",
            "003",
            "005",
        ),
        5004,
        phone="+6281310000009",
        nik_kecamatan_code="327606",
    )
    return [tangsel, jakarta_1], [jakarta_2, depok]


# --- staff ----------------------------------------------------------------------------------------

UNIT_NAMES = {
    "pupr": "Dinas Pekerjaan Umum dan Penataan Ruang",
    "bpbd": "Badan Penanggulangan Bencana Daerah",
    "dlh": "Dinas Lingkungan Hidup",
    "dishub": "Dinas Perhubungan",
    "satpol-pp": "Satuan Polisi Pamong Praja",
    "damkar": "Dinas Pemadam Kebakaran dan Penyelamatan",
    "dinkes": "Dinas Kesehatan",
    "dinsos": "Dinas Sosial",
    "diskominfo": "Dinas Komunikasi dan Informatika",
    "perkim": "Dinas Perumahan, Kawasan Permukiman dan Pertanahan",
}

# (name, sex, birth, appointed YYYYMM, unit, position, status, username)
StaffRow = tuple[str, Sex, str, str, str, str, str, str]


def _employees(city: str, domain: str, phone_prefix: str, rows: list[StaffRow]) -> list[Employee]:
    base = datetime(2026, 1, 5, 8, 0, tzinfo=WIB)
    employees = []
    for i, (nama, sex, birth, appointed, unit, jabatan, status, username) in enumerate(rows, start=1):
        # Leavers changed later than everyone else: an incremental sync sees them.
        updated = base + timedelta(days=i) + (timedelta(days=30) if status != "aktif" else timedelta())
        employees.append(
            Employee(
                nip=make_nip(date.fromisoformat(birth), appointed, sex, i),
                nama=nama,
                unit_kode=unit,
                unit_nama=f"{UNIT_NAMES[unit]} {city}",
                jabatan=jabatan,
                email=f"{username}@{domain}",
                telepon=f"{phone_prefix}{i:02d}",
                status=status,
                updated_at=updated,
                username=username,
            )
        )
    return employees


# fmt: off
TANGERANG_STAFF: list[StaffRow] = [
    ("Agus Setiawan", "L", "1988-02-14", "201203", "pupr", "Pengawas Jalan dan Jembatan", "aktif", "agus.setiawan"),
    ("Hendro Wibowo, S.T.", "L", "1975-06-20", "200003", "pupr", "Kepala Bidang Bina Marga", "aktif", "hendro.wibowo"),
    ("Rina Apriliani", "P", "1994-04-12", "201903", "diskominfo", "Operator Tangerang Live Room", "aktif", "rina.apriliani"),
    ("Dimas Saputra, S.Kom.", "L", "1986-09-30", "201002", "diskominfo", "Kepala Seksi Layanan e-Government", "aktif", "dimas.saputra"),
    ("Mulyadi", "L", "1990-08-08", "201504", "pupr", "Teknisi Drainase", "aktif", "mulyadi"),
    ("Wahyu Hidayat", "L", "1983-01-05", "200901", "bpbd", "Analis Kebencanaan", "aktif", "wahyu.hidayat"),
    ("Endang Susanti", "P", "1979-03-17", "200501", "dlh", "Pengawas Lingkungan Hidup", "aktif", "endang.susanti"),
    ("Teguh Santoso", "L", "1981-11-02", "200604", "dishub", "Kepala Seksi Manajemen Lalu Lintas", "aktif", "teguh.santoso"),
    ("Fikri Maulana", "L", "1996-01-16", "202001", "dishub", "Operator Tangerang Live Room (Dishub)", "aktif", "fikri.maulana"),
    ("Asep Sunandar", "L", "1977-07-07", "200301", "satpol-pp", "Kepala Regu Ketertiban Umum", "aktif", "asep.sunandar"),
    ("Yoga Pratama", "L", "1992-12-20", "201501", "damkar", "Petugas Pemadam Kebakaran", "aktif", "yoga.pratama"),
    ("dr. Ratih Kumalasari", "P", "1987-05-25", "201403", "dinkes", "Dokter Ahli Pertama (PSC 119)", "aktif", "ratih.kumalasari"),
    ("Lestari Handayani", "P", "1985-10-10", "201103", "dinsos", "Pekerja Sosial", "aktif", "lestari.handayani"),
    ("Haryanto", "L", "1960-04-04", "198503", "pupr", "Kepala Seksi Jalan", "pensiun", "haryanto"),
    ("Siti Nurjanah", "P", "1984-06-16", "200902", "dlh", "Analis Lingkungan", "mutasi", "siti.nurjanah"),
    ("Galih Permana", "L", "1993-09-09", "201803", "damkar", "Petugas Pemadam Kebakaran", "berhenti", "galih.permana"),
]

BEKASI_STAFF: list[StaffRow] = [
    ("Deni Firmansyah", "L", "1989-05-15", "201403", "pupr", "Pengawas Jalan dan Jembatan", "aktif", "deni.firmansyah"),
    ("Yayan Sofyan, S.T.", "L", "1974-10-10", "199903", "pupr", "Kepala Bidang Bina Marga", "aktif", "yayan.sofyan"),
    ("Putri Wulandari", "P", "1995-02-22", "201903", "diskominfo", "Operator Live Room", "aktif", "putri.wulandari"),
    ("Andri Kusuma, S.Kom.", "L", "1985-12-01", "201001", "diskominfo", "Kepala Seksi Pengelolaan e-Government", "aktif", "andri.kusuma"),
    ("Heru Prasetyo", "L", "1982-03-03", "200803", "bpbd", "Kepala Seksi Kedaruratan", "aktif", "heru.prasetyo"),
    ("Neneng Hasanah", "P", "1980-07-12", "200604", "dlh", "Pengawas Kebersihan", "aktif", "neneng.hasanah"),
    ("Irwan Setiadi", "L", "1979-09-19", "200501", "dishub", "Kepala Seksi Lalu Lintas", "aktif", "irwan.setiadi"),
    ("Bagus Prakoso", "L", "1997-03-30", "202001", "dishub", "Operator Live Room (Dishub)", "aktif", "bagus.prakoso"),
    ("Ujang Suherman", "L", "1976-02-20", "200201", "satpol-pp", "Kepala Regu Penertiban", "aktif", "ujang.suherman"),
    ("Rizal Fahmi", "L", "1991-06-01", "201501", "damkar", "Petugas Pemadam Kebakaran", "aktif", "rizal.fahmi"),
    ("dr. Melati Kusumawardani", "P", "1988-08-18", "201503", "dinkes", "Dokter Ahli Pertama", "aktif", "melati.kusumawardani"),
    ("Ade Irawan", "L", "1983-11-23", "201003", "dinsos", "Penyuluh Sosial", "aktif", "ade.irawan"),
    ("Tri Wahyuningsih", "P", "1986-04-14", "201103", "perkim", "Penata Kawasan Permukiman", "aktif", "tri.wahyuningsih"),
    ("Suhendar", "L", "1961-01-10", "198603", "pupr", "Kepala Seksi Jembatan", "pensiun", "suhendar"),
    ("Euis Komariah", "P", "1985-05-05", "201002", "dinsos", "Pekerja Sosial", "mutasi", "euis.komariah"),
    ("Gilang Ramadhan", "L", "1994-10-30", "201903", "bpbd", "Petugas Pusdalops", "berhenti", "gilang.ramadhan"),
]
# fmt: on


def _consultant(city: str, domain: str) -> OidcUser:
    return OidcUser(
        sub=subject(city, "konsultan.tik"),
        username="konsultan.tik",
        name="Konsultan TIK (bukan pegawai)",
        email=f"konsultan.tik@{domain}",
        nip=None,
        description="no Simpeg record: login must be refused",
    )


def demo_cities() -> dict[str, DemoCity]:
    """Fresh objects on every call (the simulators keep their own state per start)."""
    outsiders_tng, outsiders_bks = _outsiders()
    tangerang_residents = _tangerang_residents()
    bekasi_residents = _bekasi_residents()
    # Each SIAK also knows a resident of the other demo city (the same person in both).
    mega = next(r for r in bekasi_residents if r.nama == "Mega Utami")
    andi = next(r for r in tangerang_residents if r.nama == "Andi Pratama")
    tangerang = DemoCity(
        slug="tangerang",
        region=TANGERANG,
        email_domain="pemkot-tangerang.test",
        residents=tangerang_residents + [*outsiders_tng, mega],
        employees=_employees("Kota Tangerang", "pemkot-tangerang.test", "+62812200000", TANGERANG_STAFF),
        extra_oidc_users=[_consultant("tangerang", "pemkot-tangerang.test")],
    )
    bekasi = DemoCity(
        slug="bekasi",
        region=BEKASI,
        email_domain="pemkot-bekasi.test",
        residents=bekasi_residents + [*outsiders_bks, andi],
        employees=_employees("Kota Bekasi", "pemkot-bekasi.test", "+62813200000", BEKASI_STAFF),
        extra_oidc_users=[_consultant("bekasi", "pemkot-bekasi.test")],
    )
    return {"tangerang": tangerang, "bekasi": bekasi}


PERSONA_USERNAMES = {
    "tangerang": {
        "employee": "agus.setiawan",
        "agency_supervisor": "hendro.wibowo",
        "liveroom_operator": "rina.apriliani",
        "city_admin": "dimas.saputra",
    },
    "bekasi": {
        "employee": "deni.firmansyah",
        "agency_supervisor": "yayan.sofyan",
        "liveroom_operator": "putri.wulandari",
        "city_admin": "andri.kusuma",
    },
}
PERSONA_LABELS = {
    "employee": "agency employee (PUPR)",
    "agency_supervisor": "agency supervisor (PUPR)",
    "liveroom_operator": "Live Room operator",
    "city_admin": "city admin (Diskominfo)",
}


def personas(city: DemoCity) -> list[Persona]:
    """Who to be in a demo of this city, one per role (employees log in through the OpenID provider)."""
    residents = [r for r in city.residents if r.phone]
    citizen = residents[0]
    non_resident = next(r for r in residents if r.region.code != city.region.code)
    by_role = PERSONA_USERNAMES[city.slug]
    result = [
        Persona("citizen", "citizen (resident)", citizen.nama, nik=citizen.nik, phone=citizen.phone),
        Persona(
            "non_resident",
            "citizen (non-resident)",
            non_resident.nama,
            nik=non_resident.nik,
            phone=non_resident.phone,
        ),
    ]
    for role, username in by_role.items():
        e = city.employee(username)
        result.append(
            Persona(role, PERSONA_LABELS[role], e.nama, nip=e.nip, phone=e.telepon, username=username)
        )
    return result
