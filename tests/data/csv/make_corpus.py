#!/usr/bin/env python3
"""Writes the CSV corpus inputs byte for byte (Windows-1252, lone CR, BOM, binary...). The generated files are
committed; rerun only to change them. Each input's expected records and errors are hand-written in
<input>.expected.json (see README.md)."""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def lines(rows, end="\n"):
    return end.join(rows) + end


# French Excel export: Windows-1252, ';', CRLF, day-first dates, é è ç œ Œ € —.
write("patients_french_excel.csv", lines([
    "First Name;Last Name;DOB;Sex;Phone;Notes",
    "Hélène;Nkoulou;22/07/1990;female;+237690000101;sœur jumelle de Thérèse",
    'Thérèse;Nkoulou;22/07/1990;female;+237690000102;"Suivi cardiologie; contrôle à 3 mois"',
    "Jérôme;Tchoua;05/03/1985;male;;Œdème léger — voir notes",
    "François;Essomba;31/02/1979;male;+237690000104;date erronée",
    "Cécile;Ngo Bikoko;1/9/2001;female;+237 6 90 00 01 05;reçu 2 000 € d'avance",
], "\r\n").encode("cp1252"))

# Quoted fields: embedded newlines (row numbers follow physical lines), doubled quotes, delimiters.
write("encounters_quoted_multiline.csv", lines([
    "health_id,date,notes,severity",
    'OC-1001,2026-11-02,"Fièvre, toux ""sèche""\ndepuis 3 jours",moderate',
    'OC-1002,2026-11-03,"Ligne 1\nLigne 2\nLigne 3",',
    '"OC-1003","2026-11-04","",low',
    'OC-1004,2026-11-05,"""entre guillemets""",high',
]).encode("utf-8"))

# UTF-8 BOM, CRLF, trailing blank lines.
write("lab_results_bom_crlf.csv", b"\xef\xbb\xbf" + lines([
    "Health ID,Test,Result,Date,Flagged",
    "OC-2001,Hémoglobine,13.5 g/dL,2026-11-20,no",
    "OC-2002,Glycémie,1.32 g/L,2026-11-21,yes",
    "OC-2003,Paludisme (TDR),positif,2026-11-21,yes",
    "",
    "",
], "\r\n").encode("utf-8"))

# Old Mac line ends: a lone CR.
write("prescriptions_lone_cr.csv", lines([
    "health_id,medication,dosage,frequency,duration,date",
    "OC-3001,Artéméther-luméfantrine,80/480 mg,2x/jour,3 jours,2026-11-22",
    'OC-3002,Paracétamol,500 mg,"3x/jour, si fièvre",5 jours,2026-11-22',
    "OC-3003,Amoxicilline,1 g,2x/jour,7 jours,2026-11-23",
], "\r").encode("utf-8"))

# A required column is missing: the whole file is refused.
write("patients_missing_column.csv", lines([
    "first_name,last_name,sex,phone",
    "Marie,Fouda,female,+237690000201",
]).encode("utf-8"))

# Empty required values (also a cell of spaces) fail their rows only.
write("encounters_empty_required.csv", lines([
    "health_id,date,notes",
    "OC-4001,2026-11-10,ok",
    ",2026-11-10,sans identifiant",
    "   ,2026-11-11,identifiant blanc",
    "OC-4004,,sans date",
    ",,",
    "OC-4006,2026-11-12,",
]).encode("utf-8"))

# Dates, ISO format configured: bad, impossible, leap years, one-digit parts, a *_date column.
write("appointments_dates.csv", lines([
    "health_id,date,follow_up_date,reason",
    "OC-5001,2026-12-01,2027-01-15,contrôle",
    "OC-5002,2024-02-29,,année bissextile",
    "OC-5003,2023-02-29,,pas bissextile",
    "OC-5004,2026-02-30,,30 février",
    "OC-5005,01/12/2026,,mauvais format",
    "OC-5006,2026-1-5,2026-13-01,mois 13",
    "OC-5007,26-12-01,,année sur deux chiffres",
    "OC-5008,2026-12-01 10:30,,avec heure",
    "OC-5009,demain,,texte",
]).encode("utf-8"))

# Ambiguous dates read month-first as configured (MM/DD/YYYY).
write("appointments_month_first.csv", lines([
    "health_id,date",
    "OC-6001,03/04/2026",
    "OC-6002,12/31/2026",
    "OC-6003,31/12/2026",
    "OC-6004,4.3.2026",
    "OC-6005,04-03-2026",
    "OC-6006,04/03-2026",
]).encode("utf-8"))

# Ragged rows: too few and too many fields.
write("lab_results_ragged.csv", lines([
    "health_id,test,result,date",
    "OC-7001,NFS,normal,2026-11-01",
    "OC-7002,NFS,2026-11-01",
    "OC-7003,CRP,12 mg/L,2026-11-01,extra",
    "OC-7004,CRP,3 mg/L,2026-11-02",
]).encode("utf-8"))

write("patients_empty.csv", b"")

write("patients_header_only.csv", b"first_name,last_name,dob,sex,phone\r\n")

# Binary garbage (deterministic).
rng = random.Random(20261129)
write("patients_binary_garbage.csv", bytes(rng.randrange(256) for _ in range(2048)))

# A name matching no record type.
write("inventory_20261129.csv", lines(["item_code,quantity", "PARA500,120"]).encode("utf-8"))

# Field, row and column limits (the expected file lowers the limits so the corpus stays small).
write("pharmacy_stock_limits.csv", lines([
    "item_code,quantity,label",
    "PARA500,120,Paracétamol 500 mg",
    "AMOX1G,40," + "x" * 80,
    "ARTE80,15," + ",".join(["y"] * 12),
    "ORS,300,Sels de réhydratation",
]).encode("utf-8"))

# Tab-separated.
write("encounters_tab.csv", lines([
    "Health-ID\tDate\tNotes\tSeverity",
    "OC-8001\t2026-11-15\tConsultation prénatale\tlow",
    "OC-8002\t2026-11-16\t\"Douleur, abdominale\"\thigh",
]).encode("utf-8"))

# A UTF-8 file with one broken byte: auto keeps UTF-8 and fails that row alone.
write("patients_invalid_utf8.csv", lines([
    "first_name,last_name,dob,sex",
    "Aïssatou,Bello,1995-04-12,female",
    "Ren".encode("utf-8").decode() + "\udce9,Owona,1980-01-01,male",
    "Noël,Atangana,1978-12-25,male",
]).encode("utf-8", "surrogateescape"))

# Windows-1252 forced: 0x81 is undefined there and fails its row.
write("patients_cp1252_undefined.csv",
      lines(["first_name,last_name,dob,sex", "Emile,Ndongo,1991-05-05,male"]).encode("cp1252")
      + b"Jos\x81,Mvondo,1992-06-06,male\n"
      + "Désiré,Abena,1993-07-07,male\n".encode("cp1252"))

# A quote opened on the last row and never closed.
write("encounters_unterminated_quote.csv", lines([
    "health_id,date,notes",
    "OC-9001,2026-11-18,ok",
    'OC-9002,2026-11-18,"jamais fermé',
    "OC-9003,2026-11-19,perdu dans le champ ouvert",
]).encode("utf-8"))

write("patients_duplicate_columns.csv", lines([
    "first_name,last_name,dob,sex,Phone,phone",
    "Marie,Fouda,1990-07-22,female,+237690000301,+237690000302",
]).encode("utf-8"))

write("patients_utf16.csv", "first_name,last_name,dob,sex\r\nMarie,Fouda,1990-07-22,female\r\n".encode("utf-16"))

# What Excel leaves behind: a trailing delimiter on every line and ';;;' rows under the data.
write("lab_results_excel_leftovers.csv", lines([
    "health_id;test;result;date;",
    "OC-1101;VIH;négatif;2026-11-25;",
    "OC-1102;VIH;négatif;2026-11-25;à revoir",
    ";;;;",
    ";;;;",
    "",
], "\r\n").encode("cp1252"))
