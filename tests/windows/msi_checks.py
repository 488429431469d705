"""Checks of the Windows installer's tables (msitools' msiinfo), run by scripts/ci-windows.sh:

    python3 tests/windows/msi_checks.py build/windows/agent/packages/opescare-bridge-VERSION-x64.msi

The MSI is built by wixl from packaging/windows/opescare-bridge.wxs. These are the properties the
installer's behaviour rests on, each of which a change of the .wxs or of wixl could break silently:
the two files under Program Files (64-bit), the agent's own `service install` run elevated after the
files with the MSI's four settings, `service uninstall` before the files go (but not when an upgrade
removes the old product), the settings listed as secure (else an elevated install never sees them),
and an upgrade that replaces an older version. Running the MSI under wine is not checked here: wine
has no virtual service accounts, so `service install` fails there (see the README's Windows section).
"""

import subprocess
import sys
import unittest

MSI = None


def table(name):
    """The rows of one table as dicts (msiinfo export: names, types, table name, then the rows)."""
    out = subprocess.run(["msiinfo", "export", MSI, name], check=True, capture_output=True, text=True).stdout
    lines = out.rstrip("\n").split("\n")
    cols = lines[0].split("\t")
    return [dict(zip(cols, line.split("\t"))) for line in lines[3:]]


class MsiTables(unittest.TestCase):
    def test_the_program_and_the_example_go_under_program_files(self):
        files = {r["FileName"].split("|")[-1]: r for r in table("File")}
        self.assertEqual(sorted(files), ["config.example.yaml", "opescare-bridge.exe"])
        self.assertGreater(int(files["opescare-bridge.exe"]["FileSize"]), 1_000_000)
        dirs = {r["Directory"]: r for r in table("Directory")}
        self.assertEqual(dirs["INSTALLDIR"]["DefaultDir"], "Bridge")
        self.assertEqual(dirs[dirs["INSTALLDIR"]["Directory_Parent"]]["Directory_Parent"], "ProgramFiles64Folder")
        summary = subprocess.run(["msiinfo", "suminfo", MSI], check=True, capture_output=True, text=True).stdout
        self.assertIn("x64;1033", summary)

    def test_service_install_runs_elevated_after_the_files_with_the_settings(self):
        actions = {r["Action"]: r for r in table("CustomAction")}
        reg = actions["RegisterService"]
        self.assertTrue(reg["Target"].startswith("service install "), reg["Target"])
        for prop, flag in [("SERVER_URL", "--server-url"), ("AGENT_ID", "--agent-id"),
                           ("FACILITY_ID", "--facility-id"), ("AGENT_KEY_FILE", "--key-file")]:
            self.assertIn('%s "[%s]"' % (flag, prop), reg["Target"])
        kind = int(reg["Type"])
        self.assertEqual(kind & 0x3F, 18, "an exe installed by this package (FileKey)")
        self.assertTrue(kind & 0x400, "deferred (in the install script)")
        self.assertTrue(kind & 0x800, "not impersonated: runs as LocalSystem")
        self.assertFalse(kind & 0x40, "its failure fails the install")
        self.assertEqual(actions["UnregisterService"]["Target"], "service uninstall")

    def test_the_sequence_unregisters_before_the_files_go_and_registers_after(self):
        seq = {r["Action"]: r for r in table("InstallExecuteSequence")}
        n = {a: int(seq[a]["Sequence"]) for a in seq}
        self.assertLess(n["InstallInitialize"], n["UnregisterService"])
        self.assertLess(n["UnregisterService"], n["RemoveFiles"])
        self.assertLess(n["InstallFiles"], n["RegisterService"])
        self.assertLess(n["RegisterService"], n["InstallFinalize"])
        self.assertIn("NOT UPGRADINGPRODUCTCODE", seq["UnregisterService"]["Condition"])
        self.assertEqual(seq["RegisterService"]["Condition"], "NOT Installed AND NOT REMOVE")

    def test_the_settings_are_secure_and_an_upgrade_replaces_the_old_version(self):
        props = {r["Property"]: r["Value"] for r in table("Property")}
        secure = props["SecureCustomProperties"].split(";")
        for prop in ("SERVER_URL", "AGENT_ID", "FACILITY_ID", "AGENT_KEY_FILE", "WIX_UPGRADE_DETECTED"):
            self.assertIn(prop, secure)
        self.assertEqual(props["ALLUSERS"], "1")
        upgrades = table("Upgrade")
        self.assertTrue(any(u["ActionProperty"] == "WIX_UPGRADE_DETECTED" for u in upgrades), upgrades)
        self.assertEqual(props["UpgradeCode"].lower(), "{ae8f5f04-5770-4774-bcf0-2b759b3da860}")


if __name__ == "__main__":
    MSI = sys.argv.pop(1)
    unittest.main(verbosity=2)
