// Windows DACLs: read as mode bits (ModeFromAcl) and the private ACL of new folders (RestrictFolder).
#include <windows.h>
// After windows.h, which it needs.
#include <aclapi.h>

#include <vector>

#include "agent/env/acl_mode.h"
#include "agent/env/win_acl.h"
#include "agent/env/win_text.h"

namespace opescare::env::internal {
namespace {

using service::internal::Narrow;
using service::internal::Widen;
using service::internal::WindowsError;
using Sid = std::vector<BYTE>;

Sid WellKnown(WELL_KNOWN_SID_TYPE type) {
  DWORD size = SECURITY_MAX_SID_SIZE;
  Sid sid(size);
  if (!::CreateWellKnownSid(type, nullptr, sid.data(), &size)) return {};
  sid.resize(size);
  return sid;
}

// This process's user (the service's virtual account when run by the SCM).
Sid ProcessUser() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return {};
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<BYTE> buffer(size);
  Sid sid;
  if (size > 0 && ::GetTokenInformation(token, TokenUser, buffer.data(), size, &size)) {
    PSID user = reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid;
    sid.assign(static_cast<BYTE*>(user), static_cast<BYTE*>(user) + ::GetLengthSid(user));
  }
  ::CloseHandle(token);
  return sid;
}

// NT SERVICE\OpesCareBridge: resolves once the service is installed (not under wine).
Sid ServiceAccount() {
  DWORD sid_size = 0, domain_size = 0;
  SID_NAME_USE use;
  const wchar_t* name = L"NT SERVICE\\OpesCareBridge";
  ::LookupAccountNameW(nullptr, name, nullptr, &sid_size, nullptr, &domain_size, &use);
  if (sid_size == 0) return {};
  Sid sid(sid_size);
  std::wstring domain(domain_size + 1, L'\0');
  if (!::LookupAccountNameW(nullptr, name, sid.data(), &sid_size, domain.data(), &domain_size, &use)) return {};
  return sid;
}

bool SameSid(const Sid& a, PSID b) { return !a.empty() && ::EqualSid(const_cast<BYTE*>(a.data()), b); }

// Computed once: Stat calls this for every file, and the account lookup is slow. Immutable afterwards.
const std::vector<Sid>& TrustedSids() {
  static const std::vector<Sid> sids = {WellKnown(WinLocalSystemSid), WellKnown(WinBuiltinAdministratorsSid),
                                        WellKnown(WinCreatorOwnerRightsSid), ProcessUser(), ServiceAccount()};
  return sids;
}

unsigned ModeFromDescriptor(PSID owner, PACL dacl, bool is_directory) {
  const std::vector<Sid>& trusted = TrustedSids();
  std::vector<AceView> aces;
  for (DWORD i = 0; dacl != nullptr && i < dacl->AceCount; ++i) {
    void* raw = nullptr;
    if (!::GetAce(dacl, i, &raw)) continue;
    const auto* header = static_cast<ACE_HEADER*>(raw);
    // Allowed and denied entries share the layout: header, mask, then the SID.
    if (header->AceType != ACCESS_ALLOWED_ACE_TYPE && header->AceType != ACCESS_DENIED_ACE_TYPE) continue;
    auto* ace = static_cast<ACCESS_ALLOWED_ACE*>(raw);
    PSID sid = &ace->SidStart;
    bool is_trusted = owner != nullptr && ::EqualSid(owner, sid);
    for (const Sid& t : trusted) is_trusted = is_trusted || SameSid(t, sid);
    aces.push_back({header->AceType == ACCESS_ALLOWED_ACE_TYPE, is_trusted,
                    (header->AceFlags & INHERIT_ONLY_ACE) != 0, ace->Mask});
  }
  return ModeFromAces(aces, dacl != nullptr, is_directory);
}

}  // namespace

unsigned ModeFromAcl(HANDLE h, FileType type) {
  const bool is_directory = type == FileType::kDirectory;
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (::GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                        nullptr, &dacl, nullptr, &descriptor) != ERROR_SUCCESS) {
    return is_directory ? 0700u : 0600u;
  }
  const unsigned mode = ModeFromDescriptor(owner, dacl, is_directory);
  ::LocalFree(descriptor);
  return mode;
}

unsigned ModeFromSecurityDescriptor(PSECURITY_DESCRIPTOR sd, bool is_directory) {
  PSID owner = nullptr;
  BOOL defaulted = FALSE, present = FALSE;
  PACL dacl = nullptr;
  ::GetSecurityDescriptorOwner(sd, &owner, &defaulted);
  if (!::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present) dacl = nullptr;
  return ModeFromDescriptor(owner, dacl, is_directory);
}

Result<unsigned> ModeFromAclAt(const std::string& path) {
  const std::wstring wpath = Widen(path);
  const DWORD attrs = ::GetFileAttributesW(wpath.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) return NotFound(WindowsError(path, ::GetLastError()));
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD err = ::GetNamedSecurityInfoW(wpath.c_str(), SE_FILE_OBJECT,
                                            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, nullptr,
                                            &dacl, nullptr, &descriptor);
  if (err != ERROR_SUCCESS) return IoError(WindowsError("reading the access list of " + path, err));
  const unsigned mode = ModeFromDescriptor(owner, dacl, (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0);
  ::LocalFree(descriptor);
  return mode;
}

Status RestrictFolder(const std::string& dir) {
  const Sid sids[] = {WellKnown(WinLocalSystemSid), WellKnown(WinBuiltinAdministratorsSid), ProcessUser()};
  std::vector<EXPLICIT_ACCESSW> entries;
  for (const Sid& sid : sids) {
    if (sid.empty()) continue;
    EXPLICIT_ACCESSW ea{};
    ea.grfAccessPermissions = GENERIC_ALL;
    ea.grfAccessMode = GRANT_ACCESS;
    ea.grfInheritance = SUB_CONTAINERS_AND_OBJECTS_INHERIT;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_UNKNOWN;
    ea.Trustee.ptstrName = reinterpret_cast<LPWSTR>(const_cast<BYTE*>(sid.data()));
    entries.push_back(ea);
  }
  PACL acl = nullptr;
  DWORD err = ::SetEntriesInAclW(static_cast<ULONG>(entries.size()), entries.data(), nullptr, &acl);
  if (err != ERROR_SUCCESS) return IoError(WindowsError("building the access list of " + dir, err));
  std::wstring wdir = Widen(dir);
  err = ::SetNamedSecurityInfoW(wdir.data(), SE_FILE_OBJECT,
                                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                acl, nullptr);
  ::LocalFree(acl);
  if (err != ERROR_SUCCESS) {
    return IoError(WindowsError("making " + dir + " private (SYSTEM, Administrators and this account only)", err));
  }
  return Status::Ok();
}

}  // namespace opescare::env::internal
