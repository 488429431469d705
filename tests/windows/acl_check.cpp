// Windows ACLs read as mode bits (agent/env/acl_win.cpp) on real files whose DACLs this program sets
// (security descriptors built from SDDL, and real files), and the private ACL of folders the agent
// creates (RestrictFolder). Run under wine by tests/windows/run_service_checks.sh.
//   acl_check.exe <a file of mode 0600> <a file of mode 0644>
// Debian's wine (no wine-staging "stored ACLs") keeps no DACLs: it derives one from the Unix mode and
// maps a DACL set on a file onto those bits; nor does it enforce any. So the files' part checks the
// modes wine derives, and RestrictFolder's result is checked only on real Windows.
#include <windows.h>
// After windows.h, which they need.
#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <string>

#include "agent/env/win_acl.h"
#include "agent/env/win_text.h"
#include "tests/windows/check.h"

namespace {

using namespace opescare;
using service::internal::Narrow;
using service::internal::Widen;

bool RunningUnderWine() { return ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr; }

// Sets path's DACL from SDDL (e.g. "D:P(A;;FA;;;SY)"): P = protected, nothing inherited.
bool SetDacl(const std::string& path, const wchar_t* sddl) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, nullptr)) return false;
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  ::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
  std::wstring w = Widen(path);
  const DWORD err = ::SetNamedSecurityInfoW(w.data(), SE_FILE_OBJECT,
                                            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
                                            nullptr, dacl, nullptr);
  ::LocalFree(sd);
  return err == ERROR_SUCCESS;
}

unsigned ModeAt(const std::string& path) {
  auto mode = env::internal::ModeFromAclAt(path);
  if (!mode.ok()) std::printf("  %s\n", mode.status().ToString().c_str());
  return mode.ok() ? *mode : 07777u;
}

// The DACL of path as SDDL, for the report.
std::string DaclText(const std::string& path) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (::GetNamedSecurityInfoW(Widen(path).c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr,
                              nullptr, nullptr, &sd) != ERROR_SUCCESS) {
    return "?";
  }
  wchar_t* text = nullptr;
  std::string out = "?";
  if (::ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text,
                                                             nullptr)) {
    out = Narrow(text);
    ::LocalFree(text);
  }
  ::LocalFree(sd);
  return out;
}

// The DACL walk (GetAce, EqualSid, the trusted SIDs) on real security descriptors built from SDDL,
// owned by an ordinary user S-1-5-21-1-2-3-1001.
void CheckDescriptors() {
  struct Case {
    const wchar_t* sddl;
    bool directory;
    unsigned mode;
    const char* what;
  };
  const Case cases[] = {
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FA;;;BA)", false, 0600, "SYSTEM and Administrators only"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FA;;;S-1-5-21-1-2-3-1001)", false, 0600, "the owner"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FA;;;OW)", false, 0600, "OWNER RIGHTS"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)", false, 0644, "Users may read"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;0x1200a9;;;WD)", false, 0644, "Everyone may read"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FR;;;AU)", false, 0644, "Authenticated Users may read"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FR;;;S-1-5-21-1-2-3-1002)", false, 0644, "another user may read"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;FA;;;BU)", false, 0666, "Users have full control"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(D;;FR;;;BU)", false, 0600, "Users denied"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;OICIIO;FR;;;BU)", true, 0700, "inherit-only for Users"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)(A;;0x80;;;BU)", false, 0600, "Users see attributes only"},
      {L"O:S-1-5-21-1-2-3-1001D:P(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)", true, 0755, "a folder Users may list"},
  };
  for (const Case& c : cases) {
    PSECURITY_DESCRIPTOR sd = nullptr;
    const bool parsed = ::ConvertStringSecurityDescriptorToSecurityDescriptorW(c.sddl, SDDL_REVISION_1, &sd, nullptr);
    CHECK(parsed);
    if (!parsed) continue;
    const unsigned mode = env::internal::ModeFromSecurityDescriptor(sd, c.directory);
    ::LocalFree(sd);
    std::printf("acl: %-32s -> %04o\n", c.what, mode);
    CHECK(mode == c.mode);
  }
  // A null DACL (not an empty one) lets everyone in. Built by hand: wine's SDDL parser turns
  // "D:NO_ACCESS_CONTROL" into an empty DACL.
  SECURITY_DESCRIPTOR open{};
  CHECK(::InitializeSecurityDescriptor(&open, SECURITY_DESCRIPTOR_REVISION));
  CHECK(::SetSecurityDescriptorDacl(&open, TRUE, nullptr, FALSE));
  const unsigned mode = env::internal::ModeFromSecurityDescriptor(&open, false);
  std::printf("acl: %-32s -> %04o\n", "a null DACL", mode);
  CHECK(mode == 0666);
}

// Real files. run_service_checks.sh made `private_file` mode 0600 and `shared_file` 0644 from Linux:
// wine keeps no DACL of its own, it derives one from the Unix mode (other r -> Everyone read).
void CheckFiles(const std::string& private_file, const std::string& shared_file) {
  std::printf("acl: %s: %s -> %04o\n", private_file.c_str(), DaclText(private_file).c_str(), ModeAt(private_file));
  std::printf("acl: %s: %s -> %04o\n", shared_file.c_str(), DaclText(shared_file).c_str(), ModeAt(shared_file));
  CHECK(ModeAt(private_file) == 0600);
  CHECK(ModeAt(shared_file) == 0644);
  // The handle form env_win.cpp's Stat uses (opened with READ_CONTROL).
  HANDLE h = ::CreateFileW(Widen(shared_file).c_str(), FILE_READ_ATTRIBUTES | READ_CONTROL,
                           FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS,
                           nullptr);
  CHECK(h != INVALID_HANDLE_VALUE);
  CHECK(env::internal::ModeFromAcl(h, env::FileType::kRegular) == 0644);
  ::CloseHandle(h);
  // A DACL set through Windows: granting Everyone read opens the private file, as icacls /grant would.
  CHECK(SetDacl(private_file, L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)(A;;FR;;;WD)"));
  std::printf("acl: after granting Everyone read: %s -> %04o\n", DaclText(private_file).c_str(), ModeAt(private_file));
  CHECK((ModeAt(private_file) & 044) == 044);
  CHECK(env::internal::ModeFromAclAt(private_file + ".missing").status().code() == Code::kNotFound);
}

void CheckRestrictFolder(const std::string& dir) {
  // As the agent's first run makes %ProgramData%\OpesCare\Bridge: the topmost new folder is made private.
  const std::string top = dir + "\\OpesCare";
  const std::string inner = top + "\\Bridge\\incoming";
  ::CreateDirectoryW(Widen(top).c_str(), nullptr);
  Status s = env::internal::RestrictFolder(top);
  std::printf("acl: RestrictFolder: %s; now %s\n", s.ToString().c_str(), DaclText(top).c_str());
  CHECK(s.ok());
  CHECK(env::internal::RestrictFolder(dir + "\\missing").code() == Code::kIoError);
  if (RunningUnderWine()) {
    // Wine maps a DACL onto the Unix mode bits and reads it back from them: the protected ACL is not kept.
    std::printf("acl: the folder's ACL itself is not checked under wine (wine keeps no DACLs)\n");
    ::RemoveDirectoryW(Widen(top).c_str());
    return;
  }
  CHECK(ModeAt(top) == 0700);
  CHECK(DaclText(top).rfind("D:P", 0) == 0);  // protected: nothing inherited from above
  ::CreateDirectoryW(Widen(top + "\\Bridge").c_str(), nullptr);
  ::CreateDirectoryW(Widen(inner).c_str(), nullptr);
  const std::string file = inner + "\\lab.csv";
  HANDLE h = ::CreateFileW(Widen(file).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  ::CloseHandle(h);
  std::printf("acl: a file made inside it: %s -> %04o\n", DaclText(file).c_str(), ModeAt(file));
  CHECK(ModeAt(inner) == 0700);
  CHECK(ModeAt(file) == 0600);
  ::DeleteFileW(Widen(file).c_str());
  ::RemoveDirectoryW(Widen(inner).c_str());
  ::RemoveDirectoryW(Widen(top + "\\Bridge").c_str());
  ::RemoveDirectoryW(Widen(top).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc != 3) {
    std::printf("usage: acl_check.exe <a file of mode 0600> <a file of mode 0644>\n");
    return 2;
  }
  wchar_t base[MAX_PATH + 1];
  ::GetTempPathW(MAX_PATH, base);
  const std::string dir = Narrow(base) + "ob-acl-" + std::to_string(::GetCurrentProcessId());
  ::CreateDirectoryW(Widen(dir).c_str(), nullptr);
  CheckDescriptors();
  CheckFiles(argv[1], argv[2]);
  CheckRestrictFolder(dir);
  ::RemoveDirectoryW(Widen(dir).c_str());
  const int failures = opescare::wintest::failures;
  std::printf(failures == 0 ? "acl_check: all checks passed\n" : "acl_check: %d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
