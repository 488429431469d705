#!/usr/bin/env python3
"""Writes the demo's sample exports (fake people: Cameroonian and French names, +2376... phones) and
SENSITIVE.txt, the list of their names and phones that must never leak to the status page, /metrics or logs.
The generated files are committed; rerun only to change them."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


PATIENTS = [
    ("Marie", "Fouda", "1990-07-22", "female", "+237677120001", "OC-100001"),
    ("Jean-Pierre", "Mbarga", "1984-03-11", "male", "+237677120002", "OC-100002"),
    ("Aïssatou", "Bello", "1995-04-12", "female", "+237677120003", "OC-100003"),
    ("Emmanuel", "Ndongo", "1978-10-30", "male", "+237677120004", "OC-100004"),
    ("Brigitte", "Essomba", "2001-01-05", "female", "+237677120005", "OC-100005"),
    ("Samuel", "Eto'o Mvondo", "1969-12-24", "male", "+237677120006", "OC-100006"),
    ("Clarisse", "Ngo Bikoko", "2015-06-17", "female", "", "OC-100007"),
    ("Rodrigue", "Tchoua", "1999-08-02", "male", "+237677120008", "OC-100008"),
]
# A French-locale Excel export: Windows-1252, ';', CRLF, headers with spaces.
EXCEL_PATIENTS = [
    ("Hélène", "Nkoulou", "1988-02-14", "female", "+237699340011", "OC-100011", "Quartier Bastos"),
    ("Thérèse", "Atangana", "1975-09-03", "female", "+237699340012", "OC-100012", "Cité Verte; bloc C"),
    ("Noël", "Owona", "1960-12-25", "male", "+237699340013", "OC-100013", "Mokolo"),
    ("Françoise", "Abena", "1993-05-21", "female", "+237699340014", "OC-100014", "Nlongkak"),
    ("Jérôme", "Biyong", "2003-11-09", "male", "+237699340015", "OC-100015", "Œuvre sociale — Mvog-Ada"),
]
ENCOUNTERS = [
    ("OC-100001", "2026-11-27", "Consultation prénatale, 28 semaines", "low"),
    ("OC-100002", "2026-11-27", "Fièvre depuis 3 jours; TDR paludisme demandé", "moderate"),
    ("OC-100004", "2026-11-28", "Contrôle tension artérielle", "low"),
    ("OC-100006", "2026-11-28", "Douleur thoracique\nréférée en cardiologie", "high"),
    ("OC-100007", "2026-11-29", "Vaccination (rougeole, 2e dose)", ""),
    ("OC-100008", "2026-11-29", "Plaie à la main, suture", "moderate"),
]
LABS = [
    ("OC-100002", "TDR paludisme", "positif", "2026-11-27", "yes"),
    ("OC-100002", "Hémoglobine", "10.9 g/dL", "2026-11-27", "yes"),
    ("OC-100001", "Glycémie à jeun", "0.92 g/L", "2026-11-27", "no"),
    ("OC-100004", "Créatinine", "11 mg/L", "2026-11-28", "no"),
    ("OC-100006", "Troponine", "0.4 ng/mL", "2026-11-28", "yes"),
    ("OC-100005", "VIH (test rapide)", "négatif", "2026-11-29", ""),
]

with open(path("patients_20261129.csv"), "w", encoding="utf-8", newline="") as f:
    f.write("health_id,first_name,last_name,dob,sex,phone,city\n")
    for i, (first, last, dob, sex, phone, hid) in enumerate(PATIENTS):
        city = ["Douala", "Yaoundé", "Bafoussam", "Garoua"][i % 4]
        f.write(f"{hid},{first},{last},{dob},{sex},{phone},{city}\n")

with open(path("patients_20261130_excel.csv"), "wb") as f:
    out = "Health ID;First Name;Last Name;DOB;Sex;Phone;Address\r\n"
    for first, last, dob, sex, phone, hid, address in EXCEL_PATIENTS:
        if ";" in address:
            address = '"' + address + '"'
        out += f"{hid};{first};{last};{dob};{sex};{phone};{address}\r\n"
    f.write(out.encode("cp1252"))

with open(path("encounters_20261129.csv"), "w", encoding="utf-8", newline="") as f:
    f.write("health_id,date,notes,severity\r\n")
    for hid, date, notes, severity in ENCOUNTERS:
        notes = notes.replace('"', '""')
        f.write(f'{hid},{date},"{notes}",{severity}\r\n')

with open(path("lab_results_20261129.csv"), "wb") as f:  # with a UTF-8 byte-order mark
    out = "\ufeffhealth_id,test,result,date,flagged\r\n"
    for row in LABS:
        out += ",".join(row) + "\r\n"
    f.write(out.encode("utf-8"))

with open(path("SENSITIVE.txt"), "w", encoding="utf-8") as f:
    f.write("# Values from the sample files that must never appear on the status page, in /metrics or in logs\n")
    f.write("# (first names, last names, phone numbers). One per line; lines starting with # are comments.\n")
    for first, last, *_ in PATIENTS + EXCEL_PATIENTS:
        f.write(first + "\n" + last + "\n")
    for row in PATIENTS + EXCEL_PATIENTS:
        if row[4]:
            f.write(row[4] + "\n")
