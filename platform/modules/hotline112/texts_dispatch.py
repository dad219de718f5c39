"""Texts of the 112 units, dispatch screens and measures (Bahasa Indonesia default, English).
Error texts ``h112.error.<code>`` take the refusal's values ({call_sign}, {allowed}, ...)."""

from __future__ import annotations

_STATUS = {
    "available": ("Siaga", "Available"),
    "dispatched": ("Diberangkatkan", "Dispatched"),
    "en_route": ("Dalam perjalanan", "En route"),
    "on_scene": ("Di lokasi", "On scene"),
    "transporting": ("Mengantar pasien", "Transporting"),
    "at_hospital": ("Di rumah sakit", "At hospital"),
    "back_in_service": ("Kembali bertugas", "Back in service"),
    "out_of_service": ("Tidak bertugas", "Out of service"),
}
_TO = {
    "available": ("Siaga", "Available"),
    "dispatched": ("Berangkatkan", "Dispatch"),
    "en_route": ("Berangkat", "En route"),
    "on_scene": ("Tiba di lokasi", "On scene"),
    "transporting": ("Antar pasien", "Transporting"),
    "at_hospital": ("Tiba di RS", "At hospital"),
    "back_in_service": ("Selesai, kembali", "Back in service"),
    "out_of_service": ("Nonaktifkan tugas", "Out of service"),
}
_STATE = {
    "open": ("Terbuka", "Open"),
    "dispatched": ("Unit diberangkatkan", "Dispatched"),
    "on_scene": ("Unit di lokasi", "On scene"),
    "closed": ("Ditutup", "Closed"),
}
_MEASURE = {
    "answer": ("Waktu menjawab", "Answer time"),
    "processing": ("Waktu proses panggilan", "Call processing time"),
    "turnout": ("Waktu persiapan unit", "Turnout time"),
    "travel": ("Waktu tempuh", "Travel time"),
}

_PAIRS: dict[str, tuple[str, str]] = {
    # links
    "h112.link.dispatch": ("Dispatch 112", "112 dispatch"),
    "h112.link.measures": ("Ukuran 112", "112 measures"),
    # dispatcher screen
    "h112.dispatch.title": ("Dispatch 112", "112 dispatch"),
    "h112.dispatch.incidents.title": ("Insiden terbuka", "Open incidents"),
    "h112.dispatch.incidents.none": ("Tidak ada insiden terbuka.", "No open incidents."),
    "h112.dispatch.incident.open": ("Buka insiden", "Open the incident"),
    "h112.dispatch.units.title": ("Unit", "Units"),
    "h112.dispatch.units.none": (
        "Belum ada unit. Admin kota atau dispatcher dapat menambahkannya.",
        "No units yet. The city admin or a dispatcher can add them.",
    ),
    "h112.dispatch.units.no_position": ("posisi belum diketahui", "position unknown"),
    "h112.dispatch.map.label": ("Peta posisi unit", "Map of the units' positions"),
    "h112.dispatch.map.tiles_failed": (
        "Peta dasar tidak dapat dimuat; posisi unit tetap ditampilkan.",
        "The base map could not load; the units' positions are still shown.",
    ),
    "h112.dispatch.live.connecting": ("Menghubungkan…", "Connecting…"),
    "h112.dispatch.live.on": ("Langsung", "Live"),
    "h112.dispatch.live.off": ("Terputus, mencoba lagi…", "Disconnected, retrying…"),
    "h112.dispatch.panel.title": ("Pemberangkatan unit", "Dispatch"),
    "h112.dispatch.panel.choose": (
        "Pilih insiden di daftar untuk melihat unit yang disarankan.",
        "Choose an incident in the list to see the recommended units.",
    ),
    "h112.dispatch.panel.loading": ("Memuat…", "Loading…"),
    "h112.dispatch.panel.failed": ("Tidak dapat memuat data; coba lagi.", "Could not load; try again."),
    "h112.dispatch.panel.closed": ("Insiden ini sudah ditutup.", "This incident is closed."),
    "h112.dispatch.panel.no_location": (
        "Lokasi insiden belum diketahui: tentukan lokasinya dulu agar unit terdekat dapat disarankan.",
        "The incident's location is not known yet: set it first so the nearest units can be recommended.",
    ),
    "h112.dispatch.panel.noscript": (
        "Panel ini memerlukan JavaScript.",
        "This panel needs JavaScript.",
    ),
    "h112.dispatch.rec.title": ("Unit terdekat yang disarankan", "Recommended nearest units"),
    "h112.dispatch.rec.none": (
        "Tidak ada unit siaga yang sesuai dengan posisi diketahui.",
        "No suitable available unit with a known position.",
    ),
    "h112.dispatch.rec.assign": ("Berangkatkan", "Dispatch"),
    "h112.dispatch.rec.assign_selected": ("Berangkatkan yang dipilih", "Dispatch the selected"),
    "h112.dispatch.rec.assigned": ("Unit diberangkatkan.", "Units dispatched."),
    "h112.dispatch.rec.distance": ("Jarak", "Distance"),
    "h112.dispatch.rec.eta": ("Perkiraan tiba", "ETA"),
    "h112.dispatch.assigned.title": ("Unit yang diberangkatkan", "Units sent"),
    "h112.dispatch.assigned.none": ("Belum ada unit yang diberangkatkan.", "No unit sent yet."),
    "h112.dispatch.assigned.cancelled": ("dibatalkan", "cancelled"),
    "h112.dispatch.assigned.cleared": ("selesai", "cleared"),
    "h112.dispatch.km": ("km", "km"),
    "h112.dispatch.min": ("mnt", "min"),
    # units
    "h112.unit.call_sign": ("Kode panggil", "Call sign"),
    "h112.unit.type": ("Jenis", "Type"),
    "h112.unit.agency": ("Instansi", "Agency"),
    "h112.unit.status": ("Status", "Status"),
    "h112.unit.incident": ("Insiden", "Incident"),
    # measures
    "h112.measures.title": ("Ukuran 112 (NFPA 1225)", "112 measures (NFPA 1225)"),
    "h112.measures.intro": (
        "Waktu menjawab (panggilan masuk → dijawab), proses panggilan (dijawab → unit pertama "
        "diberangkatkan), persiapan unit (ditugaskan → berangkat) dan waktu tempuh (berangkat → tiba).",
        "Answer time (call offered → answered), call processing (answered → first unit dispatched), "
        "turnout (assigned → en route) and travel time (en route → on scene).",
    ),
    "h112.measures.since": ("Dari tanggal", "From"),
    "h112.measures.until": ("Sampai tanggal", "Until"),
    "h112.measures.show": ("Tampilkan", "Show"),
    "h112.measures.range": (
        "{since} sampai {until} ({tz}); panggilan dihitung pada hari dan shift saat masuk.",
        "{since} to {until} ({tz}); calls count on the day and shift they came in.",
    ),
    "h112.measures.overall": ("Seluruh pusat panggilan", "The whole centre"),
    "h112.measures.whole": ("Semua", "All"),
    "h112.measures.group": ("Kelompok", "Group"),
    "h112.measures.per_shift": ("Per shift", "Per shift"),
    "h112.measures.shift": ("Shift", "Shift"),
    "h112.measures.per_calltaker": ("Per petugas penerima panggilan", "Per call-taker"),
    "h112.measures.calltaker": ("Petugas", "Call-taker"),
    "h112.measures.unknown": ("Tidak diketahui", "Unknown"),
    "h112.measures.count": ("Jumlah", "Count"),
    "h112.measures.median": ("Median", "Median"),
    "h112.measures.p90": ("P90", "P90"),
    "h112.measures.within": ("≤ {seconds} dtk", "≤ {seconds} s"),
    "h112.measures.kpi.answer": (
        "panggilan dijawab dalam {seconds} detik (target 90%)",
        "of calls answered within {seconds} s (target 90%)",
    ),
    "h112.measures.kpi.processing": (
        "panggilan diproses hingga pemberangkatan dalam {seconds} detik (target 90%)",
        "of calls processed to dispatch within {seconds} s (target 90%)",
    ),
    "h112.measures.empty": ("Belum ada data pada rentang ini.", "No data in this range."),
    "h112.measures.notes": (
        "Panggilan yang dijawab setelah insidennya sudah diberangkatkan tidak dihitung dalam waktu proses.",
        "A call answered after its incident's first dispatch does not count in the processing time.",
    ),
    "h112.measures.csv": ("Unduh CSV", "Download CSV"),
    "h112.measures.seconds": ("{n} dtk", "{n} s"),
    "h112.measures.minutes": ("{n} mnt", "{n} min"),
    "h112.measures.shift.pagi": ("Shift pagi ({starts}-{ends})", "Morning shift ({starts}-{ends})"),
    "h112.measures.shift.siang": ("Shift siang ({starts}-{ends})", "Afternoon shift ({starts}-{ends})"),
    "h112.measures.shift.malam": ("Shift malam ({starts}-{ends})", "Night shift ({starts}-{ends})"),
    # refusals
    "h112.error.not_found": ("Tidak ditemukan di kota ini (#{id}).", "Not found in this city (#{id})."),
    "h112.error.required": ("Wajib diisi.", "Required."),
    "h112.error.not_text": ("Harus berupa teks.", "Must be text."),
    "h112.error.too_long": ("Terlalu panjang (maks. {max}).", "Too long (at most {max})."),
    "h112.error.too_large": ("Permintaan terlalu besar.", "The request is too large."),
    "h112.error.not_json": ("Isi permintaan bukan JSON yang sah.", "The body is not valid JSON."),
    "h112.error.not_an_object": ("Harus berupa objek JSON.", "Must be a JSON object."),
    "h112.error.not_a_list": ("Harus berupa daftar yang tidak kosong.", "Must be a non-empty list."),
    "h112.error.too_many": ("Terlalu banyak (maks. {max}).", "Too many (at most {max})."),
    "h112.error.not_an_id": ("Harus berupa nomor id.", "Must be an id number."),
    "h112.error.not_a_number": ("Harus berupa angka.", "Must be a number."),
    "h112.error.out_of_range": ("Di luar rentang {min} sampai {max}.", "Out of range {min} to {max}."),
    "h112.error.not_a_moment": (
        "Harus berupa waktu ISO-8601, misalnya 2026-12-01T13:05:00+07:00.",
        "Must be an ISO-8601 moment, e.g. 2026-12-01T13:05:00+07:00.",
    ),
    "h112.error.moment_without_offset": (
        "Waktu harus menyebut zona waktunya (misalnya +07:00).",
        "The moment must name its offset (e.g. +07:00).",
    ),
    "h112.error.in_the_future": ("Waktu ini masih di masa depan.", "This moment is in the future."),
    "h112.error.unknown_type": (
        "Jenis unit tidak dikenal (pilihan: {allowed}).",
        "Unknown unit type (choose: {allowed}).",
    ),
    "h112.error.unknown_agency": (
        "Instansi #{id} tidak ada atau tidak aktif.",
        "Agency #{id} does not exist or is inactive.",
    ),
    "h112.error.unknown_status": (
        "Status tidak dikenal (pilihan: {allowed}).",
        "Unknown status (choose: {allowed}).",
    ),
    "h112.error.initial_status": (
        "Unit baru hanya boleh berstatus: {allowed}.",
        "A new unit can only be: {allowed}.",
    ),
    "h112.error.status_through_status_change": (
        "Status diubah melalui perubahan status, bukan di sini.",
        "The status changes through a status change, not here.",
    ),
    "h112.error.call_sign_taken": (
        "Kode panggil {call_sign} sudah dipakai.",
        "Call sign {call_sign} is taken.",
    ),
    "h112.error.unit_busy": (
        "{call_sign} sedang bertugas ({status}); tunggu sampai kembali bertugas.",
        "{call_sign} is working an incident ({status}); wait until it is back in service.",
    ),
    "h112.error.unit_inactive": ("{call_sign} tidak aktif.", "{call_sign} is inactive."),
    "h112.error.invalid_transition": (
        "{call_sign} berstatus {current} dan tidak dapat menjadi {wanted} (yang boleh: {allowed}).",
        "{call_sign} is {current} and cannot become {wanted} (allowed: {allowed}).",
    ),
    "h112.error.dispatch_through_assignment": (
        "{call_sign} diberangkatkan dengan menugaskannya ke insiden.",
        "{call_sign} is dispatched by assigning it to an incident.",
    ),
    "h112.error.incident_without_location": (
        "Lokasi insiden #{id} belum diketahui.",
        "The location of incident #{id} is not known yet.",
    ),
    "h112.error.incident_closed": ("Insiden #{id} sudah ditutup.", "Incident #{id} is closed."),
    "h112.error.unit_not_found": (
        "Unit #{unit_id} tidak ada di kota ini.",
        "Unit #{unit_id} is not in this city.",
    ),
    "h112.error.unit_not_available": (
        "{call_sign} tidak siaga ({status}).",
        "{call_sign} is not available ({status}).",
    ),
    "h112.error.unit_taken": (
        "{call_sign} sudah diberangkatkan ke insiden #{incident_id} oleh {by}.",
        "{call_sign} was already dispatched to incident #{incident_id} by {by}.",
    ),
    "h112.error.date_format": ("Tanggal harus berformat TTTT-BB-HH.", "A date must be YYYY-MM-DD."),
    "h112.error.range_order": ("Tanggal akhir sebelum tanggal awal.", "The end is before the start."),
    "h112.error.range_too_long": ("Rentang paling lama {max} hari.", "The range is at most {max} days."),
    "h112.error.terminal_token_missing": (
        "Terminal unit harus mengirim Authorization: Bearer <token terminal>.",
        "The unit's terminal must send Authorization: Bearer <terminal token>.",
    ),
    "h112.error.terminal_token_invalid": (
        "Token terminal tidak dikenal atau sudah diganti.",
        "Unknown or replaced terminal token.",
    ),
}
_PAIRS.update({f"h112.unit.status.{k}": v for k, v in _STATUS.items()})
_PAIRS.update({f"h112.unit.to.{k}": v for k, v in _TO.items()})
_PAIRS.update({f"h112.dispatch.state.{k}": v for k, v in _STATE.items()})
_PAIRS.update({f"h112.measures.measure.{k}": v for k, v in _MEASURE.items()})

TEXTS: dict[str, dict[str, str]] = {
    "id": {k: v[0] for k, v in _PAIRS.items()},
    "en": {k: v[1] for k, v in _PAIRS.items()},
}
