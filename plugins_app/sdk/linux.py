"""The Linux calls confinement needs and the standard library lacks: Landlock, prctl, capset.

Thin ``ctypes`` bindings through libc's ``syscall(2)``, no compiler and no dependency; the
policy (what to grant) lives in ``sdk.confinement``. The Landlock syscall numbers 444-446
belong to the range every architecture shares since Linux 5.1 (x86_64 and aarch64 alike;
only alpha offsets them), so one table serves. Constants mirror ``linux/landlock.h`` and
``linux/capability.h``; each Landlock right is requested only when the running ABI knows
it, because the kernel refuses a ruleset naming a bit it does not know (``EINVAL``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from plugins_app.base.errors import JupiterError

__all__ = [
    "FS_EXECUTE",
    "FS_FILE_RIGHTS",
    "FS_READ",
    "FS_WRITE",
    "NET_BIND_TCP",
    "NET_CONNECT_TCP",
    "SCOPE_ABSTRACT_UNIX_SOCKET",
    "SCOPE_SIGNAL",
    "Rights",
    "SyscallError",
    "drop_capabilities",
    "landlock_abi",
    "restrict_self",
    "supported_rights",
]

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

# What a grant of each kind allows; ``supported_rights`` masks them to the running ABI.
FS_READ = FS_READ_FILE | FS_READ_DIR
FS_WRITE = (
    FS_READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SYM
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_REFER
    | FS_TRUNCATE
)
# The only rights a rule on a file (not a directory) may carry.
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

_FS_ADDED_IN = {1: (1 << 13) - 1, 2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CAP_LAST_CAP_FALLBACK = 40


class SyscallError(JupiterError):
    """A Landlock, prctl or capset call failed (Landlock being absent is not a failure)."""

    def __init__(self, call: str, code: int) -> None:
        self.call, self.errno = call, code
        super().__init__(f"{call} failed: {os.strerror(code)} (errno {code})")


@dataclass(frozen=True)
class Rights:
    """What a ruleset handles: every handled right is denied unless a rule grants it."""

    fs: int
    net: int = 0
    scoped: int = 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel header: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.capset.restype = ctypes.c_int


def _syscall(name: str, number: int, *args: ctypes.c_long | ctypes.c_void_p) -> int:
    result = int(_libc.syscall(ctypes.c_long(number), *args))
    if result == -1:
        raise SyscallError(name, ctypes.get_errno())
    return result


def _prctl(option: int, arg: int) -> int:
    """prctl with the unused arguments zero, as the kernel requires for these options."""
    zero = ctypes.c_ulong(0)
    result = int(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero))
    return 0 if result == 0 else ctypes.get_errno()


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where the kernel lacks or disables Landlock."""
    try:
        return _syscall(
            "landlock_create_ruleset",
            SYS_LANDLOCK_CREATE_RULESET,
            ctypes.c_void_p(None),
            ctypes.c_long(0),
            ctypes.c_long(LANDLOCK_CREATE_RULESET_VERSION),
        )
    except SyscallError as error:
        if error.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def supported_rights(abi: int) -> Rights:
    """Everything this module can handle on a kernel of Landlock ABI ``abi``."""
    fs = 0
    for version, bits in _FS_ADDED_IN.items():
        if abi >= version:
            fs |= bits
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return Rights(fs=fs, net=net, scoped=scoped)


def _attr_size(abi: int) -> int:
    """The size of ``landlock_ruleset_attr`` that ABI reads: fields were added at 4 and 6."""
    return 8 if abi < 4 else 16 if abi < 6 else 24


def restrict_self(abi: int, rights: Rights, rules: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """Enforce a ruleset on the calling thread and its future children, irreversibly.

    ``rules`` pairs a path with the rights granted beneath it (masked here to ``rights.fs``,
    and to file rights when the path is a file). Returns the paths skipped because they do
    not exist. Sets ``no_new_privs`` first, which the kernel requires of an unprivileged
    caller and which also stops setuid programs from regaining privileges.
    """
    attr = _RulesetAttr(rights.fs, rights.net, rights.scoped)
    ruleset = _syscall(
        "landlock_create_ruleset",
        SYS_LANDLOCK_CREATE_RULESET,
        ctypes.c_void_p(ctypes.addressof(attr)),
        ctypes.c_long(_attr_size(abi)),
        ctypes.c_long(0),
    )
    skipped: list[str] = []
    try:
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                skipped.append(path)
                continue
            try:
                allowed = access & rights.fs
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    allowed &= FS_FILE_RIGHTS
                if allowed:
                    rule = _PathBeneathAttr(allowed, fd)
                    _syscall(
                        "landlock_add_rule",
                        SYS_LANDLOCK_ADD_RULE,
                        ctypes.c_long(ruleset),
                        ctypes.c_long(LANDLOCK_RULE_PATH_BENEATH),
                        ctypes.c_void_p(ctypes.addressof(rule)),
                        ctypes.c_long(0),
                    )
            finally:
                os.close(fd)
        if code := _prctl(PR_SET_NO_NEW_PRIVS, 1):
            raise SyscallError("prctl(PR_SET_NO_NEW_PRIVS)", code)
        _syscall(
            "landlock_restrict_self",
            SYS_LANDLOCK_RESTRICT_SELF,
            ctypes.c_long(ruleset),
            ctypes.c_long(0),
        )
    finally:
        os.close(ruleset)
    return tuple(skipped)


def drop_capabilities() -> bool:
    """Give up every capability of this thread, so a root child cannot undo its limits.

    Without ``CAP_SYS_RESOURCE`` the lowered rlimits cannot be raised back, without
    ``CAP_KILL`` and friends root is an ordinary user; the bounding and ambient sets are
    cleared too so nothing it executes gets them back. Returns whether any were held.
    """
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as file:
            last_cap = int(file.read())
    except (OSError, ValueError):
        last_cap = _CAP_LAST_CAP_FALLBACK
    held = _prctl(PR_CAPBSET_DROP, 0) == 0  # EPERM: no CAP_SETPCAP, nothing to drop here
    if held:
        for cap in range(1, last_cap + 1):
            _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise SyscallError("capset", ctypes.get_errno())
    return held
