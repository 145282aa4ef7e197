// Capabilities a container running apt/dpkg as root needs, and nothing more:
// dpkg chowns and chmods what it unpacks (CHOWN, FOWNER, FSETID), writes where
// root's ownership does not reach (DAC_OVERRIDE), and apt drops to its _apt
// user to fetch (SETUID, SETGID). Everything else stays dropped.
export const APT_AS_ROOT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETUID', 'SETGID'];

// dnf installing into an --installroot as root: what rpm needs to set owners and
// modes (as for apt), and SYS_CHROOT, because rpm runs its transaction chrooted
// into the installroot.
export const DNF_INSTALLROOT_CAPABILITIES = [...APT_AS_ROOT_CAPABILITIES, 'SYS_CHROOT'];
